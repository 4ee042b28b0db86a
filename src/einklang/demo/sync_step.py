"""The demo's sync step: people edit both systems, einklang syncs, a conflict is resolved.

The edits are made with plain SQL, as the ERP's and the CRM's own users would make them: a
phone number in the ERP and an e-mail address in the CRM of the same customer (both survive),
the city of another customer in both systems (a conflict), a street in the CRM although the ERP
owns it (an ownership violation, reverted), and a new customer in the ERP (created in the CRM).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from einklang.cli.wording import cycle_entity_text
from einklang.config import LoadedConfig
from einklang.model import display
from einklang.store import conflicts
from einklang.store.links import iter_links
from einklang.store.state import StateStore
from einklang.sync.engine import SyncEngine
from einklang.systems import open_connector

Say = Callable[[str], None]


def _pick_customers(erp_url: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(erp_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT kundennr, name1, ort, telefon, strasse FROM kunden WHERE name2 IS NULL ORDER BY kundennr")
        ).mappings()
        usable = [dict(row) for row in rows if row["telefon"] and row["kundennr"] not in ("K10014", "K10018")]
    if len(usable) < 3:
        raise ValueError("the demo needs at least three customers without a second name line")
    picked = usable[len(usable) // 3 : len(usable) // 3 + 3]
    engine.dispose()
    return picked


def _execute(url: str, statements: list[tuple[str, dict[str, Any]]]) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement, parameters in statements:
            conn.execute(sa.text(statement), parameters)
    engine.dispose()


def _compare_all(config: LoadedConfig, store: StateStore, entity: str) -> tuple[int, list[str]]:
    """How many linked records agree on every field both systems map, and which do not."""
    systems = config.systems_of(entity)
    mappings = {system: config.mapping(entity, system) for system in systems}
    shared = set.intersection(*(set(m.canonical_fields) for m in mappings.values()))
    views: dict[str, dict[str, dict[str, Any]]] = {}
    for system in systems:
        with open_connector(config, system) as connector:
            by_native = {
                record.native_id: mappings[system].to_canonical(record.fields)[0]
                for page in connector.read_all(entity)
                for record in page
            }
        views[system] = {}
        for page in iter_links(store, system, entity):
            for link in page:
                if link.native_id in by_native:
                    views[system][link.golden_id] = by_native[link.native_id]
    agreeing, differing = 0, []
    first, *others = systems
    for golden_id, record in views[first].items():
        same = all(
            golden_id in views[other] and all(record.get(f) == views[other][golden_id].get(f) for f in shared)
            for other in others
        )
        if same:
            agreeing += 1
        else:
            differing.append(golden_id)
    return agreeing, differing


def run_sync_demo(directory: Path, config: LoadedConfig, store: StateStore, say: Say) -> dict[str, Any]:
    erp_url = f"sqlite:///{directory / 'erp.db'}"
    crm_url = f"sqlite:///{directory / 'crm.db'}"
    both, contested, owned = _pick_customers(erp_url)
    say(
        f"ERP user: new phone for {both['kundennr']} ({both['name1']}); new city for {contested['kundennr']}; "
        "a new customer K99001"
    )
    _execute(
        erp_url,
        [
            ("UPDATE kunden SET telefon = '0331 2345678' WHERE kundennr = :k", {"k": both["kundennr"]}),
            ("UPDATE kunden SET ort = 'Potsdam' WHERE kundennr = :k", {"k": contested["kundennr"]}),
            (
                "INSERT INTO kunden (kundennr, name1, strasse, plz, ort, land, telefon, email) VALUES "
                "('K99001', 'Neukunde Sonnenschein GmbH', 'Am Hafen 3', '18055', 'Rostock', 'Deutschland', "
                "'0381 445566', 'info@sonnenschein-neu.de')",
                {},
            ),
        ],
    )
    say(
        "ERP user: product A1000 moved to group WG50; a new product A2000 in a new group WG60 (the "
        f"product typed in first); employee P149 leaves; P101 looks after {both['kundennr']} now"
    )
    _execute(
        erp_url,
        [
            ("UPDATE artikel SET warengruppe = 'WG50' WHERE artnr = 'A1000'", {}),
            (
                "INSERT INTO artikel (artnr, bezeichnung, warengruppe, preis) "
                "VALUES ('A2000', 'Gartenschlauch 20 m', 'WG60', 24.90)",
                {},
            ),
            ("INSERT INTO warengruppen (nr, bezeichnung) VALUES ('WG60', 'Gartenbedarf')", {}),
            ("UPDATE mitarbeiter SET aktiv = 0, austritt = '2026-06-30' WHERE persnr = 'P149'", {}),
            ("UPDATE kunden SET betreuer = 'P101' WHERE kundennr = :k", {"k": both["kundennr"]}),
        ],
    )
    say(
        f"CRM user: new e-mail for {both['kundennr']}; another city for {contested['kundennr']}; "
        f"a new street for {owned['kundennr']} (the street belongs to the ERP)"
    )
    _execute(
        crm_url,
        [
            ("UPDATE accounts SET email = 'einkauf@neu-beispiel.de' WHERE external_id = :k", {"k": both["kundennr"]}),
            ("UPDATE accounts SET city = 'Cottbus' WHERE external_id = :k", {"k": contested["kundennr"]}),
            ("UPDATE accounts SET address_line = 'Falscher Weg 1' WHERE external_id = :k", {"k": owned["kundennr"]}),
        ],
    )

    with ExitStack() as stack:
        connectors = {name: stack.enter_context(open_connector(config, name)) for name in config.model.systems}
        engine = SyncEngine(config, store, connectors)
        say("einklang sync --once")
        first = engine.run_cycle()
        for entity in first.entities:
            if entity.busy:
                say(f"  {entity.entity}: {cycle_entity_text(entity.as_dict())}")
            if entity.failed:
                say(
                    f"  {entity.failed} {entity.entity} write(s) failed for good: isolated, they block nothing "
                    "else; `einklang status` shows which record and why"
                )
        with store.transaction() as conn:
            open_conflicts = conflicts.list_conflicts(conn, status="open", entity="company")
        for conflict in open_conflicts:
            values = ", ".join(f"{system}: {display(value)}" for system, value in conflict.values.items())
            say(f"einklang conflicts: #{conflict.id} company.{conflict.field}: base {display(conflict.base)}; {values}")
            say(f"einklang conflicts resolve {conflict.id} --take erp")
            with store.transaction() as conn:
                conflicts.decide_conflict(conn, conflict.id, {"take": "erp", "by": "demo"})
        say("einklang sync --once")
        second = engine.run_cycle()
        for entity in second.entities:
            if entity.busy:
                say(f"  {entity.entity}: {cycle_entity_text(entity.as_dict())}")

    agreeing, differing = _compare_all(config, store, "company")
    erp_view = _row(erp_url, "SELECT telefon, email, ort, strasse FROM kunden WHERE kundennr = :k", both["kundennr"])
    crm_view = _row(
        crm_url, "SELECT phone, email, city, address_line FROM accounts WHERE external_id = :k", both["kundennr"]
    )
    say(f"{both['kundennr']} now: ERP {erp_view}; CRM {crm_view}")
    contested_crm = _row(crm_url, "SELECT city FROM accounts WHERE external_id = :k", contested["kundennr"])
    owned_crm = _row(crm_url, "SELECT address_line FROM accounts WHERE external_id = :k", owned["kundennr"])
    new_crm = _row(crm_url, "SELECT name, city FROM accounts WHERE external_id = :k", "K99001")
    say(f"{contested['kundennr']} city in the CRM: {contested_crm[0]} (the conflict was decided for the ERP)")
    say(f"{owned['kundennr']} street in the CRM: {owned_crm[0]} (reverted: the ERP owns it)")
    say(f"K99001 in the CRM: {new_crm}")
    say(f"converged: {agreeing} linked companies agree on every shared field; {len(differing)} differ")
    references = _reference_checks(crm_url, both["kundennr"])
    for line in references["lines"]:
        say(line)
    return {
        "first_cycle": first.as_dict(),
        "conflicts": [c.id for c in open_conflicts],
        "second_cycle": second.as_dict(),
        "agreeing": agreeing,
        "differing": differing,
        "references": references["values"],
    }


def _reference_checks(crm_url: str, customer: str) -> dict[str, Any]:
    """What the CRM holds after the sync for the records with references that changed."""
    in_group = "SELECT g.code, g.name FROM products p LEFT JOIN product_groups g ON g.id = p.group_id WHERE p.sku = :k"
    moved = _row(crm_url, in_group, "A1000")
    new = _row(crm_url, in_group, "A2000")
    left = _row(crm_url, "SELECT is_active, left_on FROM users WHERE employee_no = :k", "P149")
    manager = _row(
        crm_url,
        "SELECT u.employee_no, u.first_name, u.last_name FROM accounts a JOIN users u ON u.id = a.owner_id "
        "WHERE a.external_id = :k",
        customer,
    )
    lines = [
        f"A1000 in the CRM: group {_shown(moved)} (moved with the ERP)",
        f"A2000 in the CRM: group {_shown(new)} (the new group was created first)",
        f"P149 in the CRM: active {bool(left[0]) if left else '?'}, left on {left[1] if left else '?'} "
        "(deactivated, never deleted)",
        f"{customer} account manager in the CRM: {_shown(manager)}",
    ]
    values = {"A1000": list(moved), "A2000": list(new), "P149": list(left), "account_manager": list(manager)}
    return {"lines": lines, "values": values}


def _shown(row: tuple[Any, ...]) -> str:
    return " ".join(str(value) for value in row) if row else "(none)"


def _row(url: str, query: str, key: str) -> tuple[Any, ...]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(sa.text(query), {"k": key}).first()
    engine.dispose()
    return tuple(row) if row else ()
