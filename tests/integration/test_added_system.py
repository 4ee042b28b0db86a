"""A system added to a running installation is filled by the first sync (issue 12, item 6).

As an administrator meets it: the demo ran (its CRM contacts are linked); a shared CardDAV
address book (a real Radicale) is added to the ``contact`` entity in ``einklang.yaml``;
``einklang status`` shows it as not loaded; the first ``einklang sync`` fills it, linking the
card that was already there by its e-mail address; the second sync is quiet.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml

from einklang.connectors.carddav import fields_to_card

try:  # tests/ may or may not be a package, depending on who adds __init__ files
    from tests.integration.servers import RunningServer, radicale_server
except ImportError:  # pragma: no cover
    from servers import RunningServer, radicale_server  # type: ignore[no-redef]

pytestmark = pytest.mark.integration
__all__ = ["radicale_server"]

BOOK_MAP = {
    "first_name": "first_name",
    "last_name": "last_name",
    "company": "company",
    "position": "title",
    "email": "email",
    "phone": "phone",
    "city": "city",
}


def einklang(workdir: Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "einklang", *args, "--json"], cwd=workdir, capture_output=True, text=True, timeout=300
    )
    try:
        return done.returncode, json.loads(done.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"einklang {' '.join(args)}: {done.stdout[-2000:]}\n{done.stderr[-2000:]}") from None


def cards(server: RunningServer) -> dict[str, str]:
    """The address book's cards: e-mail address -> card text."""
    with httpx.Client(auth=(server.info["user"], server.info["password"])) as client:
        listing = client.request("PROPFIND", server.info["addressbook"], headers={"Depth": "1"})
        listing.raise_for_status()
        found: dict[str, str] = {}
        for href in sorted(set(part.split("</")[0] for part in listing.text.split("href>")[1::2])):
            if not href.endswith(".vcf"):
                continue
            text = client.get(httpx.URL(server.info["addressbook"]).join(href)).text
            email = next((line.split(":", 1)[1] for line in text.splitlines() if line.startswith("EMAIL")), "")
            found[email.strip().lower()] = text
        return found


def test_the_first_sync_fills_an_address_book_added_later_and_the_second_is_quiet(
    tmp_path: Path, radicale_server: RunningServer
) -> None:
    workdir = tmp_path / "demo"
    code, _ = einklang(tmp_path, "demo", "--dir", str(workdir), "--customers", "20")
    assert code == 0
    crm = sa.create_engine(f"sqlite:///{workdir / 'crm.db'}")
    with crm.connect() as conn:
        contacts = {
            str(row.email).lower(): row
            for row in conn.execute(sa.text("SELECT first_name, email FROM contacts WHERE email IS NOT NULL"))
        }
    assert len(contacts) > 10
    # one person is in the address book already (typed in on a phone): linked, not doubled
    known = sorted(contacts)[0]
    with httpx.Client(auth=(radicale_server.info["user"], radicale_server.info["password"])) as client:
        card = fields_to_card({"uid": "phone-1", "first_name": "Vorhanden", "last_name": "Schon", "email": known})
        client.put(
            radicale_server.info["addressbook"] + "phone-1.vcf",
            content=card.serialize().encode(),
            headers={"Content-Type": "text/vcard; charset=utf-8"},
        ).raise_for_status()

    config_path = workdir / "einklang.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["systems"]["book"] = {
        "connector": "carddav",
        "url": radicale_server.info["addressbook"],
        "user": radicale_server.info["user"],
        "password": radicale_server.info["password"],
    }
    config["entities"]["contact"]["systems"]["book"] = {"map": BOOK_MAP}
    config["entities"]["contact"]["keys"] = ["email"]
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))

    _, status = einklang(workdir, "status")
    contact_status = next(e for e in status["entities"] if e["entity"] == "contact")
    assert {s["system"]: s["not_loaded"] for s in contact_status["systems"]} == {"crm": False, "book": True}

    code, first = einklang(workdir, "sync")
    contact = next(e for e in first["entities"] if e["entity"] == "contact")
    assert contact["filled"] and contact["filled"][0].startswith("book: added to contact later; filled from crm")
    assert contact["linked"] == 1 and contact["failed"] == 0
    in_book = cards(radicale_server)
    assert set(contacts) <= set(in_book)  # every CRM contact with an address is in the book
    assert len(in_book) == len(contacts)  # the card that was there was linked, not doubled
    assert "Vorhanden" not in in_book[known]  # the agreed (CRM) values replaced the phone's typing

    code, second = einklang(workdir, "sync")
    contact = next(e for e in second["entities"] if e["entity"] == "contact")
    assert (contact["created"], contact["linked"], contact["applied"], contact["filled"]) == (0, 0, 0, [])
    assert len(cards(radicale_server)) == len(contacts)
    _, status = einklang(workdir, "status")
    contact_status = next(e for e in status["entities"] if e["entity"] == "contact")
    assert not any(s["not_loaded"] for s in contact_status["systems"])
