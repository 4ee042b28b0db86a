#!/usr/bin/env python3
"""BottleCRM contacts <-> the employees' shared address book (CardDAV, Radicale), end to end.

    .venv/bin/python examples/bottlecrm-radicale/run.py [--workdir DIR] [--contacts 60]

Starts BottleCRM and Radicale from ``scripts/servers`` (run ``scripts/servers/setup-all.sh``
once before), fills the CRM with business contacts over its REST API and the address book with
a few cards of its own (one the same person as a CRM contact), then drives einklang's command
line: initial load CRM -> address book (the existing card is linked, not doubled), a first sync
(the address book's own cards reach the CRM), edits on both sides (a phone and a card edited in
a mail client, a new card from a phone, a field changed on both sides -> the CRM leads, an e-mail
changed in the address book although the CRM owns it -> reverted), sync cycles, and a final
comparison of every linked contact. Prints every step; exits non-zero when a check fails.
Used by tests/integration/test_e2e_radicale.py.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import shutil
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent


def _load_sibling() -> Any:
    """The helpers of the Tryton <-> BottleCRM example (servers, CLI calls, checks, comparison)."""
    path = HERE.parent / "tryton-bottlecrm" / "run.py"
    spec = importlib.util.spec_from_file_location("einklang_example_tryton_bottlecrm", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


shared = _load_sibling()
Checks, CheckFailed, Server, Crm = shared.Checks, shared.CheckFailed, shared.Server, shared.Crm
einklang, sync_once, status = shared.einklang, shared.sync_once, shared.status
sync_until_quiet = shared.sync_until_quiet
compare_systems, start_server, stop_server = shared.compare_systems, shared.start_server, shared.stop_server

from einklang.config import LoadedConfig, load_config  # noqa: E402

FIRST = [
    "Anna",
    "Thomas",
    "Jürgen",
    "Sabine",
    "Michael",
    "Katrin",
    "Stefan",
    "Monika",
    "Andreas",
    "Petra",
    "Frank",
    "Claudia",
    "Markus",
    "Birgit",
    "Klaus",
    "Susanne",
    "Wolfgang",
    "Ute",
    "Björn",
    "Dörte",
]
LAST = [
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Zimmermann",
    "Krüger",
]
COMPANIES = [
    ("Brandt Metallbau GmbH", "Hauptstraße 12", "10115", "Berlin", "30"),
    ("Adler Logistik AG", "Hafenstraße 3", "20095", "Hamburg", "40"),
    ("Alpen Software GmbH", "Lindenallee 8", "80331", "München", "89"),
    ("Rhein Druckerei KG", "Am Markt 1", "50667", "Köln", "221"),
    ("Sonnen Haustechnik OHG", "Gartenweg 22", "70173", "Stuttgart", "711"),
    ("Elbe Holzbau e.K.", "Mühlenweg 5", "01067", "Dresden", "351"),
]
POSITIONS = ["Einkauf", "Vertrieb", "Geschäftsführung", "Buchhaltung", "Technik", "Projektleitung"]
_ASCII = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def crm_contacts(count: int = 60, seed: int = 3) -> list[dict[str, Any]]:
    """``count`` business contacts as BottleCRM contact fields (unique names and e-mails)."""
    rng = random.Random(seed)
    result, names = [], set()
    while len(result) < count:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        if (first, last) in names:
            continue
        names.add((first, last))
        company, street, postal_code, city, area = rng.choice(COMPANIES)
        domain = company.split()[0].lower().translate(_ASCII) + "-" + company.split()[1].lower().translate(_ASCII)
        result.append(
            {
                "first_name": first,
                "last_name": last,
                "organization": company,
                "title": rng.choice(POSITIONS),
                "email": f"{first}.{last}@{domain}.de".lower().translate(_ASCII),
                "phone": f"+49 {area} {rng.randint(100000, 9999999)}",
                "address_line": street,
                "postcode": postal_code,
                "city": city,
                "country": "DE",
            }
        )
    return result


def vcard(
    uid: str,
    first: str,
    last: str,
    company: str,
    email: str,
    phone: str,
    street: str = "",
    postal_code: str = "",
    city: str = "",
    extra: str = "",
) -> str:
    """A vCard 3.0 as a phone or a mail client writes it (with properties einklang does not map)."""
    lines = [
        "BEGIN:VCARD",
        "VERSION:3.0",
        f"UID:{uid}",
        f"FN:{first} {last}",
        f"N:{last};{first};;;",
        f"ORG:{company}",
        f"EMAIL;TYPE=INTERNET,WORK:{email}",
        f"TEL;TYPE=WORK,VOICE:{phone}",
    ]
    if city:
        lines.append(f"ADR;TYPE=WORK:;;{street};{city};;{postal_code};Deutschland")
    lines += [extra] if extra else []
    lines += ["NOTE:angelegt auf dem Diensthandy", "END:VCARD"]
    return "\r\n".join(lines) + "\r\n"


class AddressBook:
    """The shared address book, as a phone or Thunderbird reaches it (plain WebDAV)."""

    def __init__(self, server: Server) -> None:
        self.collection = server.info["addressbook"]
        self.client = httpx.Client(auth=(server.info["user"], server.info["password"]), timeout=30)

    def put_new(self, name: str, text: str) -> None:
        response = self.client.put(
            self.collection + name,
            content=text.encode(),
            headers={"Content-Type": "text/vcard; charset=utf-8", "If-None-Match": "*"},
        )
        if response.status_code not in (201, 204):
            raise CheckFailed(f"PUT {name}: {response.status_code} {response.text[:200]}")

    def cards(self) -> dict[str, str]:
        """href name -> vCard text of every card."""
        body = (
            '<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
            "<D:prop><D:getetag/><C:address-data/></D:prop></C:addressbook-query>"
        )
        response = self.client.request(
            "REPORT", self.collection, content=body, headers={"Depth": "1", "Content-Type": "application/xml"}
        )
        if response.status_code != 207:
            raise CheckFailed(f"REPORT addressbook-query: {response.status_code}")
        import xml.etree.ElementTree as ET

        ns = {"D": "DAV:", "C": "urn:ietf:params:xml:ns:carddav"}
        result = {}
        for item in ET.fromstring(response.content).findall("D:response", ns):
            href = item.findtext("D:href", namespaces=ns) or ""
            data = item.find(".//C:address-data", ns)
            if data is not None and data.text:
                result[href.rstrip("/").rsplit("/", 1)[-1]] = data.text
        return result

    def find(self, email: str) -> str:
        found = [name for name, text in self.cards().items() if email.lower() in text.lower()]
        if len(found) != 1:
            raise CheckFailed(f"address book: {len(found)} cards with {email}")
        return found[0]

    def edit(self, name: str, replace: dict[str, str]) -> None:
        """Change whole lines of a card, starting with the given property names (as a client does)."""
        response = self.client.get(self.collection + name)
        etag = response.headers.get("ETag", "")
        lines = response.text.replace("\r\n ", "").splitlines()
        for prefix, new_line in replace.items():
            hits = [i for i, line in enumerate(lines) if line.upper().startswith(prefix.upper())]
            if hits:
                lines[hits[0]] = new_line
            else:
                lines.insert(len(lines) - 1, new_line)
        put = self.client.put(
            self.collection + name,
            content=("\r\n".join(lines) + "\r\n").encode(),
            headers={"Content-Type": "text/vcard; charset=utf-8", "If-Match": etag},
        )
        if put.status_code not in (201, 204):
            raise CheckFailed(f"PUT {name}: {put.status_code} {put.text[:200]}")


@dataclass
class Scenario:
    workdir: Path
    say: Any
    contacts: int = 60
    check: Any = field(init=False)
    servers: dict[str, Server] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.check = Checks(self.say)

    def step(self, text: str) -> None:
        self.say("")
        self.say(f"== {text}")

    @contextmanager
    def running_servers(self) -> Iterator[None]:
        try:
            started = time.monotonic()
            self.servers["crm"] = start_server("bottlecrm", self.workdir / "servers" / "bottlecrm")
            self.servers["addressbook"] = start_server("radicale", self.workdir / "servers" / "radicale")
            self.say(
                f"BottleCRM at {self.servers['crm'].url}, Radicale address book at "
                f"{self.servers['addressbook'].info['addressbook']} ({time.monotonic() - started:.1f} s)"
            )
            yield
        finally:
            for server in self.servers.values():
                stop_server(server)

    def write_config(self) -> LoadedConfig:
        shutil.copyfile(HERE / "einklang.yaml", self.workdir / "einklang.yaml")
        crm, dav = self.servers["crm"], self.servers["addressbook"]
        (self.workdir / "secrets.env").write_text(
            f"CRM_URL={crm.url}\nCRM_TOKEN={crm.info['token']}\nDAV_URL={dav.info['addressbook']}\n"
            f"DAV_USER={dav.info['user']}\nDAV_PASSWORD={dav.info['password']}\n",
            encoding="utf-8",
        )
        return load_config(self.workdir / "einklang.yaml")

    def run(self) -> Any:
        for name in ("einklang.db", "einklang.db-wal", "einklang.db-shm", "servers"):
            target = self.workdir / name
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.running_servers():
            self._run()
        return self.check

    def _run(self) -> None:
        say, check, workdir = self.say, self.check, self.workdir
        config = self.write_config()
        crm, book = Crm(self.servers["crm"]), AddressBook(self.servers["addressbook"])
        people = crm_contacts(self.contacts)

        self.step(f"1. the CRM holds {len(people)} business contacts; the address book 3 cards of its own")
        no_phone = people[10]
        no_phone["phone"] = ""  # typed in without a phone; an Outlook export will have it
        for person in people:
            crm.create_contact(person)
        same = people[0]
        book.put_new(
            "iphone-0001.vcf",
            vcard(
                "iphone-0001", same["first_name"], same["last_name"], same["organization"], same["email"], same["phone"]
            ),
        )
        book.put_new(
            "iphone-0002.vcf",
            vcard(
                "iphone-0002",
                "Gerda",
                "Vogel",
                "Vogel Steuerberatung",
                "g.vogel@vogel-stb.de",
                "+49 341 5566778",
                "Ring 4",
                "04109",
                "Leipzig",
            ),
        )
        book.put_new(
            "tb-0003.vcf",
            vcard(
                "tb-0003",
                "Heinz",
                "Kuhn",
                "Kuhn Gartenbau GmbH",
                "heinz.kuhn@kuhn-garten.de",
                "+49 911 223344",
                extra="X-MOZILLA-HTML:FALSE",
            ),
        )
        say(
            f"  card iphone-0001 is {same['first_name']} {same['last_name']} (also in the CRM); "
            "Gerda Vogel and Heinz Kuhn exist only in the address book"
        )
        einklang(workdir, "check")

        self.step("2. initial load: einklang load contact --from crm --to addressbook")
        # The card iphone-0001 holds fewer fields than the CRM contact it is linked to: the load
        # plans the CRM's values for it (sent by the next sync cycle).
        started = time.monotonic()
        load = einklang(workdir, "load", "contact", "--from", "crm", "--to", "addressbook")
        say(
            f"  read {load['read']}, created {load['created']}, linked {load['linked']}, failed {load['failed']} "
            f"({time.monotonic() - started:.1f} s)"
        )
        check(
            load["created"] == len(people) - 1 and load["linked"] == 1 and load["failed"] == 0,
            "every CRM contact is in the address book; the existing card was linked, not doubled",
            load,
        )

        self.step("3. the address book's own cards: einklang load contact --from addressbook --to crm")
        # A load goes one way: records only the target has are not sent back by it, and the sync
        # reads changes only from the cursor taken at the load. So the other direction is loaded too.
        back = einklang(workdir, "load", "contact", "--from", "addressbook", "--to", "crm")
        say(f"  read {back['read']}, created {back['created']}, linked {back['linked']}, failed {back['failed']}")
        check(
            back["created"] == 2 and back["skipped"] == len(people) and back["failed"] == 0,
            "the two cards only the address book had are created in the CRM; the others were linked already",
            {k: back[k] for k in ("created", "linked", "skipped", "failed")},
        )
        sync_until_quiet(workdir, say)
        check(len(crm.contacts()) == len(people) + 2, f"CRM: {len(people) + 2} contacts")
        check(len(book.cards()) == len(people) + 2, f"address book: {len(people) + 2} cards")
        compare_systems(config, "contact", check)

        self.step("4. an employee's Outlook export is imported into the CRM")
        export = workdir / "exports" / "petra_outlook.csv"
        export.parent.mkdir(parents=True, exist_ok=True)
        rows = [
            ["First Name", "Last Name", "Company", "Job Title", "Business Phone", "E-mail Address"],
            [
                no_phone["first_name"],
                no_phone["last_name"],
                no_phone["organization"],
                no_phone["title"],
                "+49 351 4455667",
                no_phone["email"],
            ],
            [
                "Otto",
                "Lindner",
                "Lindner Feinmechanik GmbH",
                "Vertrieb",
                "+49 361 778800",
                "otto.lindner@lindner-fm.de",
            ],
        ]
        export.write_text("\r\n".join(",".join(f'"{v}"' for v in row) for row in rows) + "\r\n", encoding="utf-8")
        imported = einklang(workdir, "import", str(export), "--into", "crm", "--review", "review.xlsx")
        say(
            f"  einklang import: created {imported['created']}, linked {imported['linked']}, "
            f"to review {imported['to_review']}"
        )
        check(
            imported["created"] == 1 and imported["linked"] == 1,
            f"Otto Lindner is new, {no_phone['first_name']} {no_phone['last_name']} is linked to the CRM contact",
            {k: imported[k] for k in ("created", "linked", "to_review")},
        )
        decided = workdir / "review-decided.xlsx"
        shared.decide_review(workdir / "review.xlsx", decided, say)
        applied = einklang(workdir, "review", "apply", str(decided))
        say(f"  einklang review apply: merged {applied['merged']}, failed {applied['failed']}")
        sync_until_quiet(workdir, say)

        self.step("5. edits on both sides")
        contacts = {c["email"]: c for c in crm.contacts()}
        phone_crm, title_both, email_book, city_book = people[5], people[6], people[7], people[8]
        say(f"  CRM: new phone for {phone_crm['email']}; title 'Leitung Einkauf' for {title_both['email']}")
        crm.client.patch(f"/api/contacts/{contacts[phone_crm['email']]['id']}/", json={"phone": "+49 30 9998877"})
        crm.client.patch(f"/api/contacts/{contacts[title_both['email']]['id']}/", json={"title": "Leitung Einkauf"})
        say(
            f"  address book (Thunderbird): title 'Einkaufsleiterin' for {title_both['email']} (also changed in "
            f"the CRM: the CRM leads); a new city for {city_book['email']}; a new e-mail for "
            f"{email_book['email']} (e-mails belong to the CRM)"
        )
        book.edit(book.find(title_both["email"]), {"TITLE": "TITLE:Einkaufsleiterin"})
        book.edit(book.find(city_book["email"]), {"ADR": "ADR;TYPE=WORK:;;Kirchplatz 2;Potsdam;;14467;Deutschland"})
        book.edit(book.find(email_book["email"]), {"EMAIL": "EMAIL;TYPE=INTERNET,WORK:privat@example.org"})
        say("  address book (a phone): a new card, Ines Roth")
        book.put_new(
            f"{uuid.uuid4()}.vcf",
            vcard("phone-ines", "Ines", "Roth", "Roth Sanitär GmbH", "ines.roth@roth-sanitaer.de", "+49 421 778899"),
        )

        self.step("6. sync")
        first = sync_once(workdir, say)
        contact_report = next(e for e in first["entities"] if e["entity"] == "contact")
        check(
            contact_report["violations"] >= 1,
            "the address book's e-mail change is an ownership violation",
            contact_report["violations"],
        )
        sync_until_quiet(workdir, say)

        self.step("7. the end state")
        views = compare_systems(config, "contact", check)
        crm_view = {r.get("email"): r for r in views["crm"].values()}
        book_view = {r.get("email"): r for r in views["addressbook"].values()}
        for name, view in (("CRM", crm_view), ("address book", book_view)):
            check(
                view.get(phone_crm["email"], {}).get("phone") == "+49309998877",
                f"{name}: the CRM's new phone",
                view.get(phone_crm["email"], {}).get("phone"),
            )
            check(
                view.get(title_both["email"], {}).get("position") == "Leitung Einkauf",
                f"{name}: the title changed on both sides is the CRM's",
                view.get(title_both["email"]),
            )
            check(
                view.get(city_book["email"], {}).get("city") == "Potsdam",
                f"{name}: the address book's new city",
                view.get(city_book["email"], {}).get("city"),
            )
            check(
                email_book["email"] in view and "privat@example.org" not in view,
                f"{name}: the e-mail the address book may not change is the CRM's",
            )
            check("ines.roth@roth-sanitaer.de" in view, f"{name}: the phone's new card Ines Roth is there")
            check("otto.lindner@lindner-fm.de" in view, f"{name}: the imported Otto Lindner is there")
            check(
                view.get(no_phone["email"], {}).get("phone") == "+493514455667",
                f"{name}: the phone the import merged into {no_phone['last_name']}",
                view.get(no_phone["email"], {}).get("phone"),
            )
        crm_all, cards = crm.contacts(), book.cards()
        expected = len(people) + 4
        check(len(crm_all) == expected, f"CRM: {expected} contacts", len(crm_all))
        check(len(cards) == expected, f"address book: {expected} cards", len(cards))
        emails = Counter(str(c.get("email")).lower() for c in crm_all)
        check(all(n == 1 for n in emails.values()), "CRM: no e-mail twice", [e for e, n in emails.items() if n > 1])
        check(not einklang(workdir, "conflicts", "list")["conflicts"], "no open conflicts")
        final = status(workdir)
        check(
            all(s["outbox_pending"] == 0 and s["outbox_failed"] == 0 for s in final.values()),
            "outboxes empty, nothing failed",
            final,
        )
        again = sync_once(workdir, say)
        check(
            not any(e.get("applied") or e.get("created") or e.get("captured") for e in again["entities"]),
            "one more cycle finds nothing to do (no echoes)",
            shared.cycle_summary(again),
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=HERE / "work")
    parser.add_argument("--contacts", type=int, default=60)
    args = parser.parse_args(argv)
    started = time.monotonic()
    scenario = Scenario(args.workdir.resolve(), lambda text: print(text, flush=True), args.contacts)
    try:
        checks = scenario.run()
    except CheckFailed as failure:
        print(f"\nSTOPPED: {failure}", flush=True)
        return 2
    print(
        f"\n{len(checks.passed)} checks passed, {len(checks.failed)} failed ({time.monotonic() - started:.0f} s)",
        flush=True,
    )
    for failure in checks.failed:
        print(f"  FAILED: {failure}")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
