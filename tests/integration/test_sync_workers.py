"""Several ``einklang sync --every --worker`` processes sharing a PostgreSQL state store: edits on
both sides while workers are killed with SIGKILL and replaced; afterwards every edit has arrived,
nothing is doubled, and the fencing tokens show that leases passed between workers. The same with
``--partitions``: the workers lease partitions of each entity's golden records.

Servers: PostgreSQL (ERP tables and the state store) and MariaDB (CRM tables); see conftest.py.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL
from tests.integration.conftest import POSTGRES_ADMIN_URL, _scratch_database, free_port

from einklang.config import load_config
from einklang.store import leases
from einklang.store.state import open_store
from einklang.sync.engine import SyncEngine
from einklang.systems import open_connector

EINKLANG = [sys.executable, "-m", "einklang"]
ENTITIES = ["kunde", "lieferant", "partner"]
WORKERS = 3
KILLS = int(os.environ.get("EINKLANG_WORKER_KILLS", "4"))
LEASE = 3.0


@pytest.fixture
def state_url() -> Iterator[URL]:
    """A database of its own for the state store (einklang refuses one holding other tables)."""
    yield from _scratch_database(
        POSTGRES_ADMIN_URL,
        "CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0",
        'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        "PostgreSQL",
    )


def _url(url: URL) -> str:
    return url.render_as_string(hide_password=False)


class Tables:
    """The ERP table (PostgreSQL) and CRM table (MariaDB) of one entity."""

    def __init__(self, entity: str, erp: sa.Engine, crm: sa.Engine) -> None:
        self.entity, self.erp, self.crm = entity, erp, crm
        self.erp_table, self.crm_table = f"w_{entity}_erp", f"w_{entity}_crm"
        with erp.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {self.erp_table}"))
            conn.execute(
                sa.text(
                    f"CREATE TABLE {self.erp_table} (nr VARCHAR(20) PRIMARY KEY, name VARCHAR(80), ort VARCHAR(60), "
                    "email VARCHAR(120), geaendert TIMESTAMP(6) NOT NULL DEFAULT now())"
                )
            )
        with crm.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {self.crm_table}"))
            conn.execute(
                sa.text(
                    f"CREATE TABLE {self.crm_table} (id INTEGER PRIMARY KEY AUTO_INCREMENT, number VARCHAR(20), "
                    "name VARCHAR(80), city VARCHAR(60), email VARCHAR(120), einklang_id VARCHAR(36), "
                    "changed DATETIME(6) NOT NULL DEFAULT NOW(6))"
                )
            )

    def erp_insert(self, nr: str, name: str) -> None:
        with self.erp.begin() as conn:
            conn.execute(
                sa.text(f"INSERT INTO {self.erp_table} (nr, name, ort) VALUES (:nr, :n, 'Bonn')"), {"nr": nr, "n": name}
            )

    def erp_city(self, nr: str, city: str) -> None:
        with self.erp.begin() as conn:
            conn.execute(
                sa.text(f"UPDATE {self.erp_table} SET ort = :c, geaendert = now() WHERE nr = :nr"),
                {"c": city, "nr": nr},
            )

    def crm_email(self, nr: str, email: str) -> bool:
        with self.crm.begin() as conn:
            return bool(
                conn.execute(
                    sa.text(f"UPDATE {self.crm_table} SET email = :e, changed = NOW(6) WHERE number = :nr"),
                    {"e": email, "nr": nr},
                ).rowcount
            )

    def rows(self) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
        with self.erp.connect() as conn:
            erp = {r.nr: dict(r._mapping) for r in conn.execute(sa.text(f"SELECT * FROM {self.erp_table}"))}
        with self.crm.connect() as conn:
            crm = [dict(r._mapping) for r in conn.execute(sa.text(f"SELECT * FROM {self.crm_table}"))]
        return erp, crm


def _config(tmp_path: Path, state: str, erp: str, crm: str, sync: str = "{delete_guard: 1}") -> Path:
    lines = [f'state: "{state}"', "systems:", f'  erp: {{connector: sql, url: "{erp}"}}']
    lines += [f'  crm: {{connector: sql, url: "{crm}"}}', "entities:"]
    for entity in ENTITIES:
        lines += [
            f"  {entity}:",
            "    keys: [number]",
            "    fields: {number: str, name: str, city: str, email: email}",
            "    systems:",
            f"      erp: {{table: w_{entity}_erp, id: nr, changed: geaendert,",
            "            map: {number: nr, name: name, city: ort, email: email}}",
            f"      crm: {{table: w_{entity}_crm, id: id, changed: changed, correlation: einklang_id,",
            "            map: {number: number, name: name, city: city, email: email}}",
            f"    sync: {sync}",
        ]
    path = tmp_path / "einklang.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _start_worker(config: Path, partitions: int = 1) -> subprocess.Popen[bytes]:
    options = ["--every", "0.2", "--worker", "--lease", str(LEASE), "--partitions", str(partitions)]
    return subprocess.Popen(
        [*EINKLANG, "sync", "-c", str(config), *options],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _lease_holders(state: sa.Engine) -> dict[str, str]:
    """Entity (``kunde``) or partition (``kunde 1/2``) -> the worker holding its lease."""
    with state.connect() as conn:
        if not sa.inspect(conn).has_table("worker_leases"):
            return {}  # the workers have not created the state store's tables yet
        return {lease.label: lease.holder for lease in leases.live_leases(conn)}


def _leased_by(state: sa.Engine, workers: list[subprocess.Popen[bytes]]) -> dict[str, subprocess.Popen[bytes]]:
    """Entity or partition -> the running worker process that holds its lease (killed ones left out)."""
    by_pid = {str(worker.pid): worker for worker in workers if worker.poll() is None}
    held = {unit: by_pid.get(holder.split(":")[1]) for unit, holder in _lease_holders(state).items()}
    return {unit: worker for unit, worker in held.items() if worker is not None}


def _units(partitions: int) -> list[str]:
    """What the workers lease: the entities, or each entity's partitions."""
    if partitions == 1:
        return sorted(ENTITIES)
    return sorted(f"{entity} {k}/{partitions}" for entity in ENTITIES for k in range(partitions))


def _settle(config: Path) -> None:
    loaded = load_config(config)
    store = open_store(loaded.state_url)
    connectors = {name: open_connector(loaded, name) for name in loaded.model.systems}
    try:
        engine = SyncEngine(loaded, store, connectors)
        for _ in range(8):
            if not engine.run_cycle().busy:
                return
        raise AssertionError("no quiet cycle")
    finally:
        for connector in connectors.values():
            connector.close()
        store.close()


@pytest.mark.slow
@pytest.mark.parametrize("partitions", [1, 2], ids=["entities", "partitions"])
def test_three_workers_killed_at_random_lose_and_double_nothing(
    tmp_path: Path, state_url: URL, postgres_url: URL, mariadb_url: URL, partitions: int
) -> None:
    erp, crm = sa.create_engine(_url(postgres_url)), sa.create_engine(_url(mariadb_url))
    tables = {entity: Tables(entity, erp, crm) for entity in ENTITIES}
    for table in tables.values():
        for i in range(10):
            table.erp_insert(f"N{i}", f"{table.entity} {i}")
    config = _config(tmp_path, _url(state_url), _url(postgres_url), _url(mariadb_url))
    state = sa.create_engine(_url(state_url))
    rng = random.Random(int(os.environ.get("EINKLANG_WORKER_KILL_SEED", "1")))
    last_city: dict[tuple[str, str], str] = {}
    last_email: dict[tuple[str, str], str] = {}
    next_number = 10
    units = _units(partitions)
    workers = [_start_worker(config, partitions) for _ in range(WORKERS)]
    stopped_cleanly = False
    try:
        for kill in range(KILLS):
            deadline = time.monotonic() + 60
            while len(_leased_by(state, workers)) < len(units):  # every unit leased by a live worker
                assert time.monotonic() < deadline, f"entities not all leased within 60 s: {_lease_holders(state)}"
                for worker in workers:
                    assert worker.poll() is None, f"a worker exited by itself ({worker.returncode})"
                time.sleep(0.2)
            for _ in range(rng.randrange(5, 15)):
                table = tables[rng.choice(ENTITIES)]
                number = f"N{rng.randrange(next_number)}"
                city = f"Stadt {kill}-{rng.randrange(10**6)}"
                table.erp_city(number, city)
                last_city[(table.entity, number)] = city
                table = tables[rng.choice(ENTITIES)]
                number = f"N{rng.randrange(next_number)}"
                email = f"m{kill}x{rng.randrange(10**6)}@firma.de"
                if table.crm_email(number, email):
                    last_email[(table.entity, number)] = email
                if rng.random() < 0.2:
                    for table in tables.values():
                        table.erp_insert(f"N{next_number}", f"{table.entity} {next_number}")
                    next_number += 1
                time.sleep(rng.uniform(0.05, 0.3))
            victim = rng.choice(sorted(set(_leased_by(state, workers).values()), key=workers.index))
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait()
            workers[workers.index(victim)] = _start_worker(config, partitions)
        deadline = time.monotonic() + 60
        while len(_leased_by(state, workers)) < len(units):  # the killed workers' leases taken over
            assert time.monotonic() < deadline, f"entities not all leased within 60 s: {_lease_holders(state)}"
            time.sleep(0.2)
        for attempt in range(20):  # up to a minute: a loaded machine starts a process slowly
            # a lease may be between two workers for a moment (the replacement started last gets its
            # fair share from a worker holding two): asked again, status shows every one
            status = subprocess.run(
                [*EINKLANG, "status", "-c", str(config), "--json"], capture_output=True, text=True, timeout=120
            )
            assert status.returncode == 0, status.stderr
            shown = {w["pid"]: w for w in json.loads(status.stdout)["workers"]}
            listed = sorted(lease["label"] for w in shown.values() for lease in w["leases"])
            # a replacement started last registers with its first heartbeat: under load that can
            # come after the leases are all held again
            every_worker_shown = all(worker.pid in shown for worker in workers)
            if (listed == units and every_worker_shown) or attempt == 19:
                break
            time.sleep(LEASE)
        for worker in workers:  # the live ones with their heartbeat; the killed ones fall silent
            assert worker.pid in shown, f"status does not list worker {worker.pid}: {sorted(shown)}"
            assert shown[worker.pid]["state"] == "alive"
        assert listed == units
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        stopped_cleanly = all(worker.wait(timeout=60) == 0 for worker in workers)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert stopped_cleanly, "a worker did not stop cleanly on SIGTERM"

    with state.connect() as conn:
        tokens = conn.execute(sa.text("SELECT name, token FROM worker_leases")).all()
        assert max(token for _, token in tokens) >= 2, tokens  # leases passed from killed workers
        assert leases.live_leases(conn) == []  # workers stopped by SIGTERM released theirs
        created_twice = conn.execute(
            sa.text("SELECT golden_id, system FROM audit WHERE op = 'create' GROUP BY 1, 2 HAVING count(*) > 1")
        ).all()
        assert created_twice == []  # no create applied twice, whichever worker sent it
    time.sleep(LEASE)  # leases of killed workers expired: a plain sync may take the writer lock
    _settle(config)
    for entity, table in tables.items():
        erp_rows, crm_list = table.rows()
        numbers = [row["number"] for row in crm_list]
        assert len(numbers) == len(set(numbers)), f"{entity}: duplicate in the CRM"
        crm_rows = {row["number"]: row for row in crm_list}
        assert set(erp_rows) == set(crm_rows) and len(erp_rows) == next_number, entity
        for number, row in erp_rows.items():
            other = crm_rows[number]
            assert (row["name"], row["ort"], row["email"]) == (other["name"], other["city"], other["email"])
        for (where, number), city in last_city.items():
            if where == entity:
                assert erp_rows[number]["ort"] == city, (entity, number)
        for (where, number), email in last_email.items():
            if where == entity:
                assert erp_rows[number]["email"] == email, (entity, number)


def _unit_of_metric(line: str, partitions: int) -> str:
    """``einklang_worker_lease_token{entity="kunde",partition="1/2",worker="…"} 3`` -> ``kunde 1/2``."""
    entity = line.split('entity="')[1].split('"')[0]
    part = line.split('partition="')[1].split('"')[0]
    assert (part == "all") == (partitions == 1), line
    return entity if part == "all" else f"{entity} {part}"


@pytest.mark.parametrize("partitions", [1, 2], ids=["entities", "partitions"])
def test_two_serve_workers_share_the_entities_and_show_it_in_metrics(
    tmp_path: Path, state_url: URL, postgres_url: URL, mariadb_url: URL, partitions: int
) -> None:
    erp, crm = sa.create_engine(_url(postgres_url)), sa.create_engine(_url(mariadb_url))
    tables = {entity: Tables(entity, erp, crm) for entity in ENTITIES}
    for table in tables.values():
        table.erp_insert("N1", f"{table.entity} 1")
    config = _config(
        tmp_path, _url(state_url), _url(postgres_url), _url(mariadb_url), "{delete_guard: 1, interval: 0.5}"
    )
    state = sa.create_engine(_url(state_url))
    ports = [free_port(), free_port()]
    options = ["--worker", "--lease", str(LEASE), "--partitions", str(partitions)]
    servers = [
        subprocess.Popen(
            [*EINKLANG, "serve", "-c", str(config), "--port", str(port), *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    stopped_cleanly = False
    try:
        deadline = time.monotonic() + 90
        units = _units(partitions)
        while len(_leased_by(state, servers)) < len(units) or len(set(_leased_by(state, servers).values())) < 2:
            assert time.monotonic() < deadline, f"the entities were not spread over both: {_lease_holders(state)}"
            assert all(server.poll() is None for server in servers), "a serve process exited"
            time.sleep(0.2)
        for table in tables.values():  # every entity synced, whichever worker leases it
            table.erp_city("N1", "Jena")
        deadline = time.monotonic() + 90
        while not all(row["city"] == "Jena" for table in tables.values() for row in table.rows()[1]):
            assert time.monotonic() < deadline, "an edit did not arrive"
            time.sleep(0.2)
        shown = [httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text for port in ports]
        leased_lines = [line for line in shown[0].splitlines() if line.startswith("einklang_worker_lease_token{")]
        shown_units = [_unit_of_metric(line, partitions) for line in leased_lines]
        assert sorted(shown_units) == units
        for server in servers:
            server.send_signal(signal.SIGTERM)
        stopped_cleanly = all(server.wait(timeout=90) == 0 for server in servers)
    finally:
        for server in servers:
            if server.poll() is None:
                server.kill()
                server.wait()
    assert stopped_cleanly, "a serve worker did not stop cleanly on SIGTERM"
    with state.connect() as conn:
        assert leases.live_leases(conn) == []
