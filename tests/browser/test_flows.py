"""The people's flows in a real browser (German pages): sign in, decide a conflict and watch the
systems agree, merge a duplicate with a per-field choice, undo an import, and the refusals."""

from __future__ import annotations

import re
from typing import Any

from tests.browser.conftest import Served, screenshot
from tests.unit.web.site import contested_customer

IMPORT_RUN = 2


def test_sign_in_decide_a_conflict_run_a_cycle_and_the_systems_agree(new_page: Any, served: Served) -> None:
    site = served.site
    login = new_page()
    login.goto(served.url + "/conflicts")
    assert "Anmelden" in login.content()
    screenshot(login, "01-anmelden")
    page = new_page("anna")
    assert page.locator("h1").inner_text() == "Übersicht"
    screenshot(page, "02-uebersicht")
    number = contested_customer(site)
    page.goto(served.url + "/conflicts")
    row = page.locator("table.list tbody tr").filter(has_text=number)
    assert "Potsdam" in row.inner_text() and "Cottbus" in row.inner_text()
    screenshot(page, "03-konflikte")
    row.get_by_role("link", name="Entscheiden").click()
    page.wait_for_url(re.compile(r"/conflicts/\d+$"))
    screenshot(page, "04-konflikt")
    page.get_by_label(re.compile("Wert von crm übernehmen")).check()
    page.locator("form.decide button.primary").click()
    page.wait_for_url(re.compile(r"/conflicts\?"))
    assert "Entscheidung gespeichert" in page.locator(".flash").inner_text()
    page.goto(served.url + "/")
    page.get_by_role("button", name="Jetzt abgleichen").click()
    assert "Abgleich wurde gestartet" in page.locator(".flash").inner_text()
    served.app.state.web.runtime.wait(60)
    assert site.sql("erp.db", "SELECT ort FROM kunden WHERE kundennr = :k", k=number)[0][0] == "Cottbus"
    assert site.sql("crm.db", "SELECT city FROM accounts WHERE external_id = :k", k=number)[0][0] == "Cottbus"
    # the record page shows both systems agreeing, and the decision in its history with the name
    page.goto(served.url + "/records?q=" + number)
    page.locator("table.list a").first.click()
    city = page.locator("table.side tr").filter(has=page.locator("code", has_text=re.compile("^city$")))
    assert city.inner_text().count("Cottbus") == 3  # agreed, erp, crm
    assert "by anna" in page.locator("table.list").last.inner_text()
    screenshot(page, "05-datensatz")
    page.goto(served.url + "/runs")
    screenshot(page, "06-laeufe")


def test_review_a_possible_duplicate_and_merge_it_with_a_per_field_choice(new_page: Any, served: Served) -> None:
    page = new_page("sabine")
    page.goto(served.url + "/reviews")
    assert f"/reviews/{IMPORT_RUN}/R2" in page.content()
    screenshot(page, "07-dublettenpruefung")
    page.locator(f"a[href^='/reviews/{IMPORT_RUN}/R2']").click()
    preview = page.locator("#preview")
    assert "lena.fischer@gmx.de" in preview.inner_text()  # no choice: the existing value stays
    page.locator("select[name=take_email]").select_option("incoming")
    page.wait_for_function("document.querySelector('#preview').innerText.includes('lena.fischer@hofmann-hauste.de')")
    screenshot(page, "08-dublette-zusammenfuehren")
    page.get_by_label("zusammenführen").check()
    page.get_by_role("button", name="Entscheiden und weiter").click()
    page.wait_for_url(re.compile(r"/reviews"))
    assert "Zeile entschieden" in page.locator(".flash").inner_text()
    email = served.site.sql("crm.db", "SELECT email FROM contacts WHERE id = 2")[0][0]
    assert email == "lena.fischer@hofmann-hauste.de"


def test_undo_an_import_after_a_confirmation(new_page: Any, served: Served) -> None:
    site = served.site
    before = int(site.sql("crm.db", "SELECT count(*) FROM contacts")[0][0])
    page = new_page("anna")
    page.goto(served.url + "/runs")
    page.locator(f"a[href='/runs/{IMPORT_RUN}/undo']").click()
    text = page.locator("main").inner_text()
    assert "Das wird zurückgenommen" in text and "Datensätze gelöscht" in text
    screenshot(page, "09-rueckgaengig")
    assert int(site.sql("crm.db", "SELECT count(*) FROM contacts")[0][0]) == before
    page.get_by_role("button", name=f"Ja, Lauf {IMPORT_RUN} rückgängig machen").click()
    page.wait_for_url(re.compile(r"/runs\?"))
    assert f"Lauf {IMPORT_RUN} rückgängig gemacht" in page.locator(".flash").inner_text()
    assert int(site.sql("crm.db", "SELECT count(*) FROM contacts")[0][0]) < before


def test_a_viewer_cannot_decide(new_page: Any, served: Served) -> None:
    page = new_page("viewer")
    page.goto(served.url + "/conflicts/1")
    assert page.locator("form.decide").count() == 0
    token = page.locator("body").get_attribute("hx-headers")
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', token or "")
    assert csrf
    response = page.request.post(served.url + "/conflicts/1/decide", form={"choice": "take:erp", "csrf": csrf.group(1)})
    assert response.status == 403
    assert "Your role may not do this (steward needed)" in response.text()  # (no Accept-Language sent)


def test_a_form_without_csrf_token_is_refused(new_page: Any, served: Served) -> None:
    page = new_page("sabine")
    page.goto(served.url + "/conflicts/1")
    page.evaluate("document.querySelector('form.decide input[name=csrf]').remove()")
    page.evaluate("document.body.removeAttribute('hx-headers')")
    page.locator("form.decide button.primary").click()
    assert "Das Formular ist abgelaufen" in page.locator(".flash.error").inner_text()
    assert served.site.sql("einklang.db", "SELECT status FROM conflicts WHERE id = 1")[0][0] == "open"


def test_the_pages_fit_a_tablet(new_page: Any, served: Served) -> None:
    page = new_page("sabine", width=768, height=1024)
    for path in ("/", "/conflicts", "/conflicts/1", f"/reviews/{IMPORT_RUN}/R2", "/records", "/runs"):
        page.goto(served.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, path
    page.goto(served.url + "/conflicts/1")
    screenshot(page, "10-tablet-konflikt")
