"""The state store on the real PostgreSQL, and `einklang load` surviving kill -9."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from tests.store_reads import read

from einklang.config import load_config
from einklang.demo import scenario
from einklang.store import links, outbox, reports
from einklang.store.state import open_store
from einklang.sync.initial_load import run_initial_load
from einklang.systems import open_connector

pytestmark = pytest.mark.integration

POSTGRES_ADMIN_URL = os.environ.get(
    "EINKLANG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def database_server_missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and a database server is unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def postgres_state_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one state store."""
    admin_url = make_url(POSTGRES_ADMIN_URL)
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"einklang_state_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.DBAPIError as error:
        admin.dispose()
        database_server_missing(f"PostgreSQL is not reachable: {error.orig}")
        return
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_state_store_on_postgres(tmp_path: Path, postgres_state_url: str) -> None:
    config_path = scenario.build(tmp_path, customer_count=120)
    text = config_path.read_text(encoding="utf-8").replace(
        "state: sqlite:///einklang.db", f"state: {postgres_state_url}"
    )
    config_path.write_text(text, encoding="utf-8")
    config = load_config(config_path)
    store = open_store(config.state_url)
    assert store.current_revision() == store.head_revision()
    with open_connector(config, "erp") as erp, open_connector(config, "crm") as crm:
        first = run_initial_load(config, store, "company", erp, crm, batch_size=50)
        second = run_initial_load(config, store, "company", erp, crm, batch_size=50)
    assert (first.created, first.failed) == (120, 0)
    assert (second.created, second.skipped) == (0, 120)
    assert read(store, links.count_links, "crm", "company") == 120
    assert read(store, reports.last_run, "company") is not None
    store.close()


def crm_external_ids(directory: Path) -> list[str]:
    engine = sa.create_engine(f"sqlite:///{directory / 'crm.db'}")
    with engine.connect() as conn:
        ids = [row[0] for row in conn.execute(sa.text("SELECT external_id FROM accounts"))]
    engine.dispose()
    return ids


def load_runs(state_db: Path) -> int:
    """How many loads have started on this state store (read only; WAL readers block no writer)."""
    if not state_db.exists():
        return 0
    with closing(sqlite3.connect(state_db, timeout=10)) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM runs WHERE kind = 'load'").fetchone()[0])
        except sqlite3.OperationalError:  # no such table yet: the first process is migrating
            return 0


def test_load_killed_with_sigkill_resumes_without_duplicates(tmp_path: Path) -> None:
    customers = 4000
    scenario.build(tmp_path, customer_count=customers)
    command = [
        sys.executable,
        "-m",
        "einklang",
        "load",
        "company",
        "--from",
        "erp",
        "--to",
        "crm",
        "--batch-size",
        "100",
        "--json",
    ]
    rng = random.Random(42)
    kills = 0
    for _ in range(6):
        runs_before = load_runs(tmp_path / "einklang.db")
        process = subprocess.Popen(
            command,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "EINKLANG_CONFIG": str(tmp_path / "einklang.yaml")},
        )
        # Kill while the load works, not while the interpreter still imports (2-3 s on a busy
        # machine): from the moment this process has recorded its run, after up to 1.5 s.
        started = time.monotonic()
        while process.poll() is None and load_runs(tmp_path / "einklang.db") == runs_before:
            assert time.monotonic() - started < 120, "einklang load recorded no run in 120 s"
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.5))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        process.wait()
    final = subprocess.run(
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "EINKLANG_CONFIG": str(tmp_path / "einklang.yaml")},
    )
    assert final.returncode == 0, final.stdout + final.stderr
    ids = crm_external_ids(tmp_path)
    assert kills >= 1, "the load finished before any kill: make the data set larger"
    assert len(ids) == customers
    assert len(set(ids)) == customers
    config = load_config(tmp_path / "einklang.yaml")
    store = open_store(config.state_url)
    assert read(store, links.count_links, "crm", "company") == customers
    assert read(store, links.count_links, "erp", "company") == customers
    assert read(store, outbox.outbox_counts, "crm", "company").get("pending", 0) == 0
