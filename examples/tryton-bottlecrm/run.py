#!/usr/bin/env python3
"""Tryton (ERP) <-> BottleCRM (CRM), end to end against the real servers.

    .venv/bin/python examples/tryton-bottlecrm/run.py [--workdir DIR] [--customers 200] [--keep]

Starts Tryton and BottleCRM from the templates of ``scripts/servers`` (run
``scripts/servers/setup-all.sh`` once before), seeds the ERP with German customers over JSON-RPC,
and then drives einklang through its command line (``--json``) as an operator would:
initial load, Outlook import with a duplicate review, edits on both sides (a conflict, two
ownership violations), sync cycles, a CRM outage while ``einklang sync --every`` keeps running,
the CRM's return, and a final comparison of both systems. Prints every step; exits non-zero when
a check fails. The functions are also used by tests/integration/test_e2e_tryton_bottlecrm.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from openpyxl import load_workbook

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SERVER_SCRIPTS = REPO / "scripts" / "servers"
SERVERS_DIR = Path(os.environ.get("EINKLANG_SERVERS_DIR", "/work/.einklang-servers"))
sys.path.insert(0, str(HERE))

import masterdata  # noqa: E402
import seed  # noqa: E402

from einklang.config import LoadedConfig, load_config  # noqa: E402
from einklang.connectors.tryton import TrytonSession  # noqa: E402
from einklang.store.links import iter_links  # noqa: E402
from einklang.store.state import open_store  # noqa: E402
from einklang.systems import open_connector  # noqa: E402

Say = Callable[[str], None]


class CheckFailed(AssertionError):
    pass


@dataclass
class Checks:
    """Every check of the scenario, with its outcome; failures do not stop the scenario."""

    say: Say
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def __call__(self, ok: bool, what: str, detail: Any = "") -> bool:
        if ok:
            self.passed.append(what)
            self.say(f"  ok    {what}")
        else:
            shown = str(detail)[:800]
            self.failed.append(f"{what}: {shown}" if detail != "" else what)
            self.say(f"  FAIL  {what}" + (f": {shown}" if detail != "" else ""))
        return ok


# --- servers ------------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    instance: Path
    info: dict[str, str]

    @property
    def url(self) -> str:
        return self.info["url"]

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


def start_server(name: str, instance: Path) -> Server:
    done = subprocess.run(
        [str(SERVER_SCRIPTS / f"{name}.sh"), "start", str(instance)], capture_output=True, text=True, timeout=180
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{name} did not start (run scripts/servers/setup-all.sh first?): {done.stderr.strip()[-800:]}"
        )
    return Server(name, instance, dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line))


def stop_server(server: Server) -> None:
    subprocess.run(
        [str(SERVER_SCRIPTS / f"{server.name}.sh"), "stop", str(server.instance)],
        capture_output=True,
        timeout=60,
        check=False,
    )


def restart_bottlecrm(server: Server) -> None:
    """Start BottleCRM again on its own database and port (``bottlecrm.sh start`` would copy the
    empty template over the database, so the start command is repeated here without the copy)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(SERVER_SCRIPTS),
        "DJANGO_SETTINGS_MODULE": "einklang_bottlecrm_settings",
        "BOTTLECRM_SQLITE": str(server.instance / "db.sqlite3"),
    }
    log = (server.instance / "server.log").open("ab")
    process = subprocess.Popen(
        [
            str(SERVERS_DIR / "bottlecrm" / "venv" / "bin" / "django-admin"),
            "runserver",
            f"127.0.0.1:{server.port}",
            "--noreload",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    (server.instance / "server.pid").write_text(str(process.pid))  # so that bottlecrm.sh stop finds it
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"BottleCRM exited on restart; see {server.instance / 'server.log'}")
        try:
            if httpx.get(f"{server.url}/healthz/", timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("BottleCRM did not come back within 90 s")


# --- the two systems, as their users reach them -------------------------------------------------


class Erp:
    """Tryton over JSON-RPC (what an ERP user's client does)."""

    def __init__(self, server: Server) -> None:
        self.session = TrytonSession(
            "erp",
            {
                "url": server.url,
                "database": server.info["database"],
                "user": server.info["user"],
                "password": server.info["password"],
            },
        )
        self.country_ids: dict[str, int] = {}

    def call(self, model: str, method: str, *args: Any) -> Any:
        return self.session.model(model, method, *args)

    def seed(self, customers: list[seed.Customer]) -> list[int]:
        ids = self.call(
            "country.country", "create", [{"name": "Deutschland", "code": "DE"}, {"name": "Österreich", "code": "AT"}]
        )
        self.country_ids = {"DE": ids[0], "AT": ids[1]}
        return list(self.call("party.party", "create", [c.tryton_values(self.country_ids) for c in customers]))

    def party(self, code: str) -> dict[str, Any]:
        found = self.call("party.party", "search", [["code", "=", code]], 0, None, None)
        if len(found) != 1:
            raise CheckFailed(f"ERP: {len(found)} parties with code {code}")
        party = self.call("party.party", "read", found, ["id", "name", "code", "addresses", "contact_mechanisms"])[0]
        return dict(party)

    def set_city(self, code: str, city: str, postal_code: str | None = None) -> None:
        party = self.party(code)
        values: dict[str, Any] = {"city": city}
        if postal_code:
            values["postal_code"] = postal_code
        self.call("party.address", "write", party["addresses"][:1], values)

    def set_mechanism(self, code: str, kind: str, value: str) -> None:
        party = self.party(code)
        mechanisms = self.call("party.contact_mechanism", "read", party["contact_mechanisms"], ["type"])
        same = [m["id"] for m in mechanisms if m["type"] == kind]
        if same:
            self.call("party.contact_mechanism", "write", same[:1], {"value": value})
        else:
            self.call("party.contact_mechanism", "create", [{"party": party["id"], "type": kind, "value": value}])

    def rename(self, code: str, name: str) -> None:
        self.call("party.party", "write", [self.party(code)["id"]], {"name": name})

    def create(self, customer: seed.Customer) -> int:
        return int(self.call("party.party", "create", [customer.tryton_values(self.country_ids)])[0])

    def codes(self) -> list[str]:
        ids = self.call("party.party", "search", [], 0, None, None)
        return [str(p["code"] or "") for p in self.call("party.party", "read", ids, ["code"])]


class Crm:
    """BottleCRM over its REST API (what the CRM's web UI does)."""

    def __init__(self, server: Server) -> None:
        self.client = httpx.Client(
            base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {server.info['token']}"}
        )

    def _ok(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 300 or (response.content and response.json().get("error")):
            raise CheckFailed(
                f"CRM {response.request.method} {response.request.url}: {response.status_code} {response.text[:300]}"
            )
        return dict(response.json()) if response.content else {}

    def accounts(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = []
        while True:
            page = self._ok(self.client.get("/api/accounts/", params={"limit": 100, "offset": len(result)}))
            rows = page["active_accounts"]["open_accounts"] + page.get("closed_accounts", {}).get("close_accounts", [])
            result.extend(rows)
            if not rows or len(result) >= int(page["active_accounts"].get("open_accounts_count") or 0) + int(
                page.get("closed_accounts", {}).get("close_accounts_count") or 0
            ):
                return result

    def contacts(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = []
        while True:
            page = self._ok(self.client.get("/api/contacts/", params={"limit": 100, "offset": len(result)}))
            rows = page["contact_obj_list"]
            result.extend(rows)
            if not rows or len(result) >= int(page["contacts_count"] if "contacts_count" in page else page["count"]):
                return result

    def account_id(self, customer_number: str) -> str:
        found = [a["id"] for a in self.accounts() if (a.get("description") or "") == customer_number]
        if len(found) != 1:
            raise CheckFailed(f"CRM: {len(found)} accounts with customer number {customer_number}")
        return str(found[0])

    def patch_account(self, account_id: str, values: dict[str, Any]) -> None:
        self._ok(self.client.patch(f"/api/accounts/{account_id}/", json=values))

    def create_account(self, values: dict[str, Any]) -> str:
        return str(self._ok(self.client.post("/api/accounts/", json=values))["id"])

    def create_contact(self, values: dict[str, Any]) -> str:
        return str(self._ok(self.client.post("/api/contacts/", json=values))["id"])


# --- einklang's command line ----------------------------------------------------------------------


def einklang(workdir: Path, *args: str, check: bool = True, ok_codes: tuple[int, ...] = (0,)) -> dict[str, Any]:
    """Run ``einklang ARGS --json`` in the work folder; return its JSON document.

    ``ok_codes``: exit codes that are expected outcomes (docs/security.md), e.g. 6 for a sync
    that leaves conflicts for a person to decide.
    """
    done = subprocess.run(
        [sys.executable, "-m", "einklang", *args, "--json"], cwd=workdir, capture_output=True, text=True, timeout=600
    )
    try:
        document = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise CheckFailed(
            f"einklang {' '.join(args)}: exit {done.returncode}, no JSON: {done.stdout[-500:]} {done.stderr[-1500:]}"
        ) from None
    if check and (done.returncode not in ok_codes or (done.returncode == 0 and not document.get("ok", False))):
        raise CheckFailed(f"einklang {' '.join(args)}: exit {done.returncode}: {json.dumps(document)[:1500]}")
    return dict(document)


def cycle_summary(document: dict[str, Any]) -> str:
    keys = (
        "captured",
        "applied",
        "created",
        "linked",
        "conflicts",
        "violations",
        "resolved",
        "stale",
        "failed",
        "deleted",
    )
    parts = []
    for entity in document.get("entities", []):
        busy = [f"{key} {entity[key]}" for key in keys if entity.get(key)]
        if entity.get("unavailable"):
            busy.append(f"unavailable {entity['unavailable']}")
        if busy:
            parts.append(f"{entity['entity']}: " + ", ".join(busy))
    return "; ".join(parts) or "nothing to do"


def sync_once(workdir: Path, say: Say) -> dict[str, Any]:
    document = einklang(workdir, "sync", "--once", ok_codes=(0, 6))  # 6: conflicts wait for a person
    say(f"einklang sync --once -> {cycle_summary(document)}")
    return document


def sync_until_quiet(workdir: Path, say: Say, limit: int = 5) -> int:
    """Sync cycles until one changes nothing anywhere; return how many ran."""
    for number in range(1, limit + 1):
        document = sync_once(workdir, say)
        busy = any(
            e.get(k)
            for e in document["entities"]
            for k in ("captured", "applied", "created", "linked", "resolved", "deleted", "failed")
        )
        if not busy:
            return number
    return limit


def status(workdir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    document = einklang(workdir, "status")
    return {
        (e["entity"], s["system"]): {**s, "open_conflicts": e["open_conflicts"]}
        for e in document["entities"]
        for s in e["systems"]
    }


def outbox_of(workdir: Path, entity: str, system: str) -> dict[str, Any]:
    """Outbox counts of one system, read while a background sync may hold the state store."""
    for _ in range(10):
        try:
            found = status(workdir)[(entity, system)]
            return {"pending": found["outbox_pending"], "failed": found["outbox_failed"]}
        except CheckFailed:
            time.sleep(0.5)
    return {"pending": None, "failed": None}


# --- comparison ---------------------------------------------------------------------------------


def canonical_views(config: LoadedConfig, entity: str) -> tuple[dict[str, dict[str, dict[str, Any]]], dict[str, int]]:
    """Per system: golden id -> canonical record of every linked record; and the record counts."""
    store = open_store(config.state_url)
    views: dict[str, dict[str, dict[str, Any]]] = {}
    counts: dict[str, int] = {}
    try:
        for system in config.systems_of(entity):
            mapping = config.mapping(entity, system)
            with open_connector(config, system) as connector:
                native = {
                    r.native_id: mapping.to_canonical(r.fields)[0] for page in connector.read_all(entity) for r in page
                }
            counts[system] = len(native)
            views[system] = {
                link.golden_id: dict(native[link.native_id])
                for page in iter_links(store, system, entity)
                for link in page
                if link.native_id in native
            }
    finally:
        store.close()
    return views, counts


def compare_systems(config: LoadedConfig, entity: str, check: Checks) -> dict[str, dict[str, dict[str, Any]]]:
    """Every linked record agrees on every field both systems map; nothing unlinked, nothing missing."""
    views, counts = canonical_views(config, entity)
    systems = list(views)
    shared = set.intersection(*(set(config.mapping(entity, s).canonical_fields) for s in systems))
    first, *others = systems
    differing = []
    for golden_id, record in views[first].items():
        for other in others:
            theirs = views[other].get(golden_id)
            if theirs is None:
                differing.append(f"{golden_id}: linked in {first}, missing in {other}")
                continue
            for name in sorted(shared):
                if record.get(name) != theirs.get(name):
                    differing.append(
                        f"{golden_id}.{name}: {first} {record.get(name)!r} != {other} {theirs.get(name)!r}"
                    )
    check(not differing, f"{entity}: all {len(views[first])} linked records agree on {sorted(shared)}", differing[:10])
    for system in systems:
        check(
            len(views[system]) == counts[system],
            f"{entity}: every record in {system} is linked ({counts[system]} records, {len(views[system])} linked)",
        )
    check(
        len({len(v) for v in views.values()}) == 1,
        f"{entity}: same number of linked records everywhere",
        {s: len(v) for s, v in views.items()},
    )
    return views


# --- the decisions a reviewer makes in the review file ------------------------------------------


def decide_review(review: Path, decided: Path, say: Say) -> dict[str, int]:
    """Fill in the review file as a person would.

    Contact rows: the scenario plants only real duplicates (the same person with a typo, or with
    an old private e-mail address), so merge into the candidate, taking the imported e-mail where
    the CRM holds a freemail one. Account rows (a contact's company is named like an existing
    account, but neither postal code nor e-mail domain agree): a different company of the same
    name, so create a new account.
    """
    workbook = load_workbook(review)
    sheet = workbook.active
    assert sheet is not None
    header = [str(cell.value) for cell in sheet[1]]
    column = {name: index + 1 for index, name in enumerate(header)}
    decisions: Counter[str] = Counter()
    for row in range(2, sheet.max_row + 1):

        def cell(name: str, row: int = row) -> Any:
            return sheet.cell(row, column[name]).value if name in column else None

        first, last = cell("first_name (incoming)"), cell("last_name (incoming)")
        if cell("Kind") == "account":
            decision, note = "create", f"a different company than the existing {cell('company (candidate 1)')!r}"
        else:
            decision, note = "merge", "same person"
            if str(cell("email (candidate 1)") or "").endswith("@gmx.de"):
                sheet.cell(row, column["email: take"]).value = "incoming"
                note += ", take the imported business e-mail"
        sheet.cell(row, column["Decision"]).value = decision
        decisions[decision] += 1
        say(f"  review {cell('Review no.')} ({cell('Kind')}, {cell('Verdict')}): {first} {last} -> {decision} ({note})")
    workbook.save(decided)
    return dict(decisions)


# --- the scenario -------------------------------------------------------------------------------


@dataclass
class Scenario:
    workdir: Path
    say: Say
    customers: int = 200
    check: Checks = field(init=False)
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
            self.servers["erp"] = start_server("tryton", self.workdir / "servers" / "tryton")
            self.servers["crm"] = start_server("bottlecrm", self.workdir / "servers" / "bottlecrm")
            self.say(
                f"Tryton at {self.servers['erp'].url}, BottleCRM at {self.servers['crm'].url} "
                f"({time.monotonic() - started:.1f} s)"
            )
            yield
        finally:
            for server in self.servers.values():
                stop_server(server)

    def write_config(self) -> LoadedConfig:
        shutil.copyfile(HERE / "einklang.yaml", self.workdir / "einklang.yaml")
        erp, crm = self.servers["erp"], self.servers["crm"]
        (self.workdir / "secrets.env").write_text(
            f"TRYTON_URL={erp.url}\nTRYTON_DATABASE={erp.info['database']}\nTRYTON_USER={erp.info['user']}\n"
            f"TRYTON_PASSWORD={erp.info['password']}\nCRM_URL={crm.url}\nCRM_TOKEN={crm.info['token']}\n",
            encoding="utf-8",
        )
        return load_config(self.workdir / "einklang.yaml")

    def run(self) -> Checks:
        for name in ("einklang.db", "einklang.db-wal", "einklang.db-shm", "servers", "exports"):
            target = self.workdir / name
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.running_servers():
            self._run()
        return self.check

    def _run(self) -> None:
        say, check, workdir = self.say, self.check, self.workdir
        config = self.write_config()
        erp, crm = Erp(self.servers["erp"]), Crm(self.servers["crm"])
        customers = seed.customers(self.customers)

        self.step("1. einklang check")
        document = einklang(workdir, "check")
        say(f"  {json.dumps({k: v for k, v in document.items() if k != 'ok'}, ensure_ascii=False)[:600]}")

        self.step(f"2. seed the ERP: {len(customers)} German customers over Tryton's JSON-RPC")
        started = time.monotonic()
        ids = erp.seed(customers)
        say(
            f"  party.party.create: {len(ids)} parties with main address, e-mail and phone "
            f"({time.monotonic() - started:.1f} s)"
        )

        self.step("3. initial load: einklang load company --from erp --to crm")
        started = time.monotonic()
        load = einklang(workdir, "load", "company", "--from", "erp", "--to", "crm")
        say(
            f"  read {load['read']}, created {load['created']}, linked {load['linked']}, failed {load['failed']} "
            f"({time.monotonic() - started:.1f} s)"
        )
        for warning in load.get("warnings", []):
            say(f"  warning: party {warning['native_id']}.{warning['field']}: {warning['reason']}")
        check(load["created"] == len(customers) and load["failed"] == 0, "every customer created in the CRM", load)
        again = einklang(workdir, "load", "company", "--from", "erp", "--to", "crm")
        check(again["created"] == 0, "the same load again creates nothing", again)
        check(len(crm.accounts()) == len(customers), "the CRM holds one account per customer")

        self.step("4. Outlook import into the CRM's contacts, with duplicate review")
        hand_typed = seed.hand_typed_contacts(customers)
        for customer, values in hand_typed:
            crm.create_contact({**values, "account": crm.account_id(customer.number)})
        say(f"  a CRM user typed in {len(hand_typed)} contacts by hand before the import")
        exports = seed.write_exports(workdir / "exports", customers)
        say(f"  wrote {len(exports)} Outlook exports: {', '.join(p.name for p in exports)}")
        inspected = einklang(workdir, "inspect", *map(str, exports), check=False)
        for report in inspected["files"]:
            say(
                f"  einklang inspect {Path(report['file']).name}: {report['format']}, {report['encoding']}, "
                f"{report['rows_read']} rows, {report['errors']} error(s)"
            )
            for problem in report["problems"]:
                say(f"    {problem['text'].rsplit('/', 1)[-1]}")
        imported = einklang(workdir, "import", *map(str, exports), "--into", "crm", "--review", "review.xlsx")
        say(
            f"  einklang import: {imported['rows_usable']} usable rows are {imported['persons']} persons; "
            f"created {imported['created']}, linked {imported['linked']}, to review {imported['to_review']}; "
            f"accounts attached {imported['accounts_attached']}, created {imported['accounts_created']}"
        )
        check(imported["to_review"] >= 1, "the import holds possible duplicates for review", imported["to_review"])
        check(
            imported["accounts_created"] == 1,
            "the import created the account of the company that is new",
            imported["accounts_created"],
        )
        decided = workdir / "review-decided.xlsx"
        decide_review(workdir / "review.xlsx", decided, say)
        applied = einklang(workdir, "review", "apply", str(decided))
        say(
            f"  einklang review apply: merged {applied['merged']}, created {applied['created']}, "
            f"skipped {applied['skipped']}, failed {applied['failed']}"
        )
        check(applied["failed"] == 0, "the review decisions were applied", applied.get("failures"))
        rerun = einklang(workdir, "import", *map(str, exports), "--into", "crm", "--review", "review-again.xlsx")
        check(
            rerun["created"] == 0 and rerun.get("to_review", 0) == 0,
            "the same import again creates nothing",
            {k: rerun.get(k) for k in ("created", "to_review", "already_imported")},
        )
        check(len(crm.accounts()) == len(customers) + 1, "the CRM holds the customers' accounts and the new one")
        contacts = crm.contacts()
        people = Counter((c["first_name"], c["last_name"]) for c in contacts)
        expected_people = {(seed.ascii_fold(p.first_name), seed.ascii_fold(p.last_name)) for p in seed.PEOPLE}
        found_people = {(seed.ascii_fold(first), seed.ascii_fold(last)) for first, last in people}
        check(
            found_people == expected_people and all(n == 1 for n in people.values()),
            f"the CRM holds each of the {len(seed.PEOPLE)} persons exactly once",
            dict(people),
        )
        check(
            all(c.get("account") for c in contacts),
            "every contact is attached to its account",
            [c["last_name"] for c in contacts if not c.get("account")],
        )
        emails = Counter(c.get("email") for c in contacts)
        check(all(n == 1 for e, n in emails.items() if e), "no two contacts share an e-mail address", emails)

        self.step("5. sync: the account the import created reaches the ERP")
        sync_until_quiet(workdir, say)
        codes = Counter(erp.codes())
        check(
            len(codes) == len(customers) + 1 and all(n == 1 for n in codes.values()),
            "the ERP has the new company as a party, with a customer number of its own",
            {k: v for k, v in codes.items() if v > 1 or not k.startswith("K")},
        )
        compare_systems(config, "company", check)

        self.step("6. people edit both systems")
        usable = [c for c in customers if c.phone and c.country == "DE"]
        both, contested, street_owned, number_owned = usable[20], usable[21], usable[22], usable[23]
        say(f"  ERP: new phone for {both.number}; city Potsdam for {contested.number}; a new customer K20001")
        erp.set_mechanism(both.number, "phone", "+49 331 2345678")
        erp.set_city(contested.number, "Potsdam", "14467")
        new_erp = seed.Customer(
            "K20001",
            "Neukunde Sonnenschein GmbH",
            "Am Hafen 3",
            "18055",
            "Rostock",
            "DE",
            "0381 445566",
            "info@sonnenschein-neu.de",
        )
        erp.create(new_erp)
        say(
            f"  CRM: new e-mail for {both.number}; city Cottbus for {contested.number} (a conflict); "
            f"a new street for {street_owned.number} and a new customer number for {number_owned.number} "
            "(both belong to the ERP); a new account 'Havel Gartenbau GmbH'"
        )
        crm.patch_account(crm.account_id(both.number), {"email": "einkauf@neu-beispiel.de"})
        crm.patch_account(crm.account_id(contested.number), {"city": "Cottbus", "postcode": "03046"})
        crm.patch_account(crm.account_id(street_owned.number), {"address_line": "Falscher Weg 1"})
        crm.patch_account(crm.account_id(number_owned.number), {"description": "K99999"})
        crm.create_account(
            {
                "name": "Havel Gartenbau GmbH",
                "address_line": "Uferweg 7",
                "postcode": "14776",
                "city": "Brandenburg an der Havel",
                "country": "DE",
                "phone": "+49 3381 223344",
                "email": "info@havel-gartenbau.de",
            }
        )

        self.step("7. sync, the conflict, its resolution")
        first = sync_once(workdir, say)
        company = next(e for e in first["entities"] if e["entity"] == "company")
        check(company["conflicts"] >= 1, "the city changed in both systems is a conflict", company["conflicts"])
        check(
            company["violations"] >= 2,
            "the CRM's street and customer-number edits are ownership violations",
            company["violations"],
        )
        conflicts = einklang(workdir, "conflicts", "list")["conflicts"]
        for conflict in conflicts:
            say(
                f"  einklang conflicts: #{conflict['id']} {conflict['entity']}.{conflict['field']}: "
                f"base {conflict.get('base')!r}, values {conflict.get('values')}"
            )
        city_conflicts = [c for c in conflicts if c["field"] in ("city", "postal_code")]
        check(len(city_conflicts) >= 1, "the conflict is listed", conflicts)
        for conflict in conflicts:
            say(f"  einklang conflicts resolve {conflict['id']} --take crm")
            einklang(workdir, "conflicts", "resolve", str(conflict["id"]), "--take", "crm")
        sync_until_quiet(workdir, say)
        check(not einklang(workdir, "conflicts", "list")["conflicts"], "no open conflicts are left")

        views = compare_systems(config, "company", check)
        erp_view = {r.get("customer_number"): r for r in next(iter(views.values())).values()}
        crm_view = {r.get("customer_number"): r for r in list(views.values())[1].values()}
        for view_name, view in (("ERP", erp_view), ("CRM", crm_view)):
            check(
                view.get(both.number, {}).get("phone") == "+493312345678"
                and view.get(both.number, {}).get("email") == "einkauf@neu-beispiel.de",
                f"{view_name}: {both.number} has the ERP's new phone and the CRM's new e-mail",
                view.get(both.number),
            )
            check(
                view.get(contested.number, {}).get("city") == "Cottbus",
                f"{view_name}: {contested.number} has the city the conflict was resolved to",
                view.get(contested.number, {}).get("city"),
            )
            check(
                view.get(street_owned.number, {}).get("street") == street_owned.street,
                f"{view_name}: {street_owned.number}'s street is the ERP's (the CRM edit was reverted)",
                view.get(street_owned.number, {}).get("street"),
            )
            check(
                number_owned.number in view and "K99999" not in view,
                f"{view_name}: customer number {number_owned.number} restored, K99999 nowhere",
            )
            check("K20001" in view, f"{view_name}: the new ERP customer K20001 is there")
            havel = [r for r in view.values() if r.get("name") == "Havel Gartenbau GmbH"]
            check(
                len(havel) == 1 and bool(havel[0].get("customer_number")),
                f"{view_name}: the new CRM account is there once, with the ERP's customer number",
                havel,
            )

        self.step("8. outage: BottleCRM goes down while `einklang sync --every 2` keeps running")
        sync_log = (workdir / "sync-every.log").open("w")
        every = subprocess.Popen(
            [sys.executable, "-m", "einklang", "sync", "--every", "2"],
            cwd=workdir,
            stdout=sync_log,
            stderr=subprocess.STDOUT,
        )
        try:
            time.sleep(3)
            stop_server(self.servers["crm"])
            say("  BottleCRM stopped")
            outage_edits = usable[30:35]
            for index, customer in enumerate(outage_edits):
                erp.rename(customer.number, f"{customer.name} (neu {index + 1})")
            erp.set_city(usable[35].number, "Bad Homburg", "61348")
            new_outage = seed.Customer(
                "K20002",
                "Ausfallsicher Logistik GmbH",
                "Rheinufer 9",
                "55116",
                "Mainz",
                "DE",
                "06131 998877",
                "info@ausfallsicher.de",
            )
            erp.create(new_outage)
            say(f"  ERP during the outage: {len(outage_edits)} names, one city, a new customer K20002")
            pending = self.wait_for(lambda: (outbox_of(workdir, "company", "crm")["pending"] or 0) >= 7, 60)
            check(pending, "the ERP's changes wait in the CRM's outbox", outbox_of(workdir, "company", "crm"))
            check(every.poll() is None, "the sync keeps running while the CRM is down")
            erp.set_mechanism(usable[36].number, "email", "neu@waehrend-ausfall.de")
            say("  and one more ERP change (an e-mail) while the sync keeps cycling")
            time.sleep(4)
            self.say(f"  outbox for the CRM: {outbox_of(workdir, 'company', 'crm')['pending']} pending")
            restart_bottlecrm(self.servers["crm"])
            say("  BottleCRM restarted on its own database")
            drained = self.wait_for(lambda: outbox_of(workdir, "company", "crm") == {"pending": 0, "failed": 0}, 90)
            check(
                drained, "the outbox drains after the CRM is back, nothing failed", outbox_of(workdir, "company", "crm")
            )
        finally:
            every.send_signal(signal.SIGTERM)
            try:
                every.wait(timeout=60)
            except subprocess.TimeoutExpired:
                every.kill()
            sync_log.close()
        say(f"  einklang sync --every stopped (exit {every.returncode}); log in {sync_log.name}")
        check(every.returncode == 0, "sync --every ended cleanly on SIGTERM", every.returncode)
        log_text = Path(sync_log.name).read_text(encoding="utf-8", errors="replace")
        check(
            "crm unavailable" in log_text,
            "the background sync reported the CRM unavailable and kept cycling",
            log_text[-600:],
        )

        self.step("9. final cycles and the end state")
        sync_until_quiet(workdir, say)
        views = compare_systems(config, "company", check)
        erp_view = {r.get("customer_number"): r for r in next(iter(views.values())).values()}
        crm_view = {r.get("customer_number"): r for r in list(views.values())[1].values()}
        for index, customer in enumerate(outage_edits):
            check(
                crm_view.get(customer.number, {}).get("name") == f"{customer.name} (neu {index + 1})",
                f"CRM: outage rename of {customer.number} arrived",
            )
        check(crm_view.get(usable[35].number, {}).get("city") == "Bad Homburg", "CRM: outage city change arrived")
        check(
            crm_view.get(usable[36].number, {}).get("email") == "neu@waehrend-ausfall.de",
            "CRM: e-mail changed during the outage arrived",
        )
        check("K20002" in crm_view, "CRM: the customer created during the outage is there")
        codes = Counter(erp.codes())
        accounts = crm.accounts()
        crm_numbers = Counter(a.get("description") for a in accounts)
        expected = len(customers) + 4  # + import's company, K20001, the CRM's new account, K20002
        check(sum(codes.values()) == expected, f"ERP: {expected} parties", sum(codes.values()))
        check(len(accounts) == expected, f"CRM: {expected} accounts", len(accounts))
        check(
            all(n == 1 for n in codes.values()),
            "ERP: no duplicate customer numbers",
            [k for k, n in codes.items() if n > 1],
        )
        check(
            all(n == 1 and k for k, n in crm_numbers.items()),
            "CRM: every account has its own customer number",
            [k for k, n in crm_numbers.items() if n > 1 or not k],
        )
        check(
            set(codes) == set(crm_numbers),
            "the same customer numbers in both systems",
            sorted(map(str, set(codes) ^ set(crm_numbers))),
        )
        names = Counter(a["name"] for a in accounts)
        check(
            all(n == 1 for n in names.values()),
            "CRM: no account twice (by name)",
            [k for k, n in names.items() if n > 1],
        )
        contacts = crm.contacts()
        check(len(contacts) == len(seed.PEOPLE), f"CRM: still {len(seed.PEOPLE)} contacts", len(contacts))
        masterdata.masterdata_steps(self.step, say, check, erp, crm, lambda: sync_until_quiet(workdir, say, limit=8))
        self.step("12. end state of every entity")
        final = status(workdir)
        check(
            all(s["outbox_pending"] == 0 and s["outbox_failed"] == 0 for s in final.values()),
            "all outboxes empty, nothing failed",
            final,
        )
        check(all(s["open_conflicts"] == 0 for s in final.values()), "no open conflicts")
        log = einklang(workdir, "log", "--entity", "company", check=False)
        entries = log.get("entries", log.get("log", []))
        say(f"  einklang log --entity company: {len(entries)} audit entries")

    @staticmethod
    def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if condition():
                    return True
            except CheckFailed:
                pass
            time.sleep(1)
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=HERE / "work", help="folder for state, exports, servers")
    parser.add_argument("--customers", type=int, default=200)
    args = parser.parse_args(argv)
    started = time.monotonic()
    scenario = Scenario(args.workdir.resolve(), lambda text: print(text, flush=True), args.customers)
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
