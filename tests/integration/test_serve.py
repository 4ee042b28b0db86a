"""``einklang serve`` as a process: the demo folder, HTTP endpoints, a real sync, SIGTERM.

Needs no server beyond SQLite, so it never skips. Everything is polled with generous deadlines;
no time is asserted.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from tests.integration.conftest import free_port

EINKLANG = [sys.executable, "-m", "einklang"]


def _wait_for(
    condition: Callable[[], Any], what: str, process: subprocess.Popen[str], deadline: float = 120, poll: float = 0.2
) -> Any:
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        if process.poll() is not None:
            raise AssertionError(f"serve exited with {process.returncode} while waiting for {what}")
        try:
            value = condition()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    folder = tmp_path / "demo"
    subprocess.run(
        [*EINKLANG, "demo", "--dir", str(folder), "--customers", "300", "--json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    config = folder / "einklang.yaml"
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    for entity in document["entities"].values():
        entity.setdefault("sync", {})["interval"] = 1
    config.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return folder


@pytest.fixture
def served(demo: Path) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    port = free_port()
    log = (demo / "serve.log").open("w")
    process = subprocess.Popen(
        [*EINKLANG, "serve", "-c", str(demo / "einklang.yaml"), "--port", str(port), "--log-format", "json"],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "EINKLANG_METRICS_TOKEN": ""},
    )
    try:
        yield process, f"http://127.0.0.1:{port}", demo
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


def _crm_city(folder: Path, customer: str) -> str | None:
    with sqlite3.connect(folder / "crm.db") as crm:
        row = crm.execute("SELECT city FROM accounts WHERE external_id = ?", (customer,)).fetchone()
    return None if row is None else row[0]


def _running_sync(folder: Path) -> int | None:
    with sqlite3.connect(folder / "einklang.db", timeout=30) as state:
        row = state.execute("SELECT id FROM runs WHERE kind = 'sync' AND status = 'running'").fetchone()
    return None if row is None else int(row[0])


def test_serve_syncs_the_demo_answers_and_stops_cleanly_on_sigterm(
    served: tuple[subprocess.Popen[str], str, Path],
) -> None:
    process, base, folder = served
    health = _wait_for(lambda: httpx.get(f"{base}/healthz", timeout=5), "/healthz", process)
    assert health.status_code == 200 and health.json()["scheduler"] == "running"
    ready = httpx.get(f"{base}/readyz", timeout=5)
    assert ready.status_code == 200 and ready.json()["ok"] is True
    metrics = httpx.get(f"{base}/metrics", timeout=30)
    assert metrics.status_code == 200 and 'einklang_breaker_state{system="crm"} 0.0' in metrics.text

    with sqlite3.connect(folder / "erp.db") as erp:
        customer = erp.execute("SELECT kundennr FROM kunden ORDER BY kundennr LIMIT 1").fetchone()[0]
        erp.execute("UPDATE kunden SET ort = 'Wilhelmshaven' WHERE kundennr = ?", (customer,))
    _wait_for(lambda: _crm_city(folder, customer) == "Wilhelmshaven", "the scheduler to sync the edit", process)
    scraped = _wait_for(
        lambda: (
            (text := httpx.get(f"{base}/metrics", timeout=30).text)
            and 'einklang_changes_applied_total{entity="company"} 0.0' not in text
            and text
        ),
        "the applied change in /metrics",
        process,
    )
    assert 'einklang_changes_read_total{entity="company"}' in scraped

    # every customer changes: SIGTERM arrives while the cycle that writes them runs
    with sqlite3.connect(folder / "erp.db") as erp:
        erp.execute("UPDATE kunden SET ort = ort || ' (Nord)'")
    running_run = _wait_for(lambda: _running_sync(folder), "a cycle to be running", process, poll=0.005)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=300) == 0
    with sqlite3.connect(folder / "einklang.db") as state:
        statuses = {row[0] for row in state.execute("SELECT status FROM runs WHERE kind = 'sync'")}
        interrupted = state.execute("SELECT status, finished_at FROM runs WHERE id = ?", (running_run,)).fetchone()
        holders = state.execute("SELECT count(*) FROM locks").fetchone()[0]
    assert interrupted[0] == "ok" and interrupted[1] is not None  # the running cycle finished
    assert "running" not in statuses
    assert holders == 0  # the writer lock was given back
    lines = (folder / "serve.log").read_text().splitlines()
    assert any('"einklang serve: stopped"' in line for line in lines)


def test_serve_mails_a_digest_of_a_new_conflict(demo: Path) -> None:
    from tests.unit.service.receivers import smtp_server

    from einklang.config import load_config
    from einklang.store.lock import writer_lock
    from einklang.store.state import store_for_config

    smtp_port = free_port()
    config = demo / "einklang.yaml"
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    document["service"] = {
        "notifications": {
            "min_interval": 0,
            "check_every": 0.5,
            "email": {
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp_port,
                "starttls": False,
                "from": "einklang@example.com",
                "to": [{"address": "buero@example.com", "language": "de"}],
            },
        }
    }
    config.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    port = free_port()
    with smtp_server(smtp_port) as mailbox, (demo / "serve.log").open("w") as log:
        process = subprocess.Popen(
            [*EINKLANG, "serve", "-c", str(config), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_for(lambda: httpx.get(f"{base}/healthz", timeout=5).status_code == 200, "/healthz", process)
            # the demo's import left a possible duplicate undecided: the first digest says so
            first = _wait_for(lambda: mailbox.messages, "the first digest", process)[0]
            assert first["Subject"] == "einklang: 1 mögliche Dublette zu prüfen"
            with sqlite3.connect(demo / "erp.db") as erp:
                customer = erp.execute("SELECT kundennr FROM kunden ORDER BY kundennr LIMIT 1").fetchone()[0]
            # both edits land between two cycles: the test holds the writer lock while it makes them
            store = store_for_config(load_config(config))
            with writer_lock(store, "test"):
                with sqlite3.connect(demo / "erp.db") as erp:
                    erp.execute("UPDATE kunden SET ort = 'Kiel' WHERE kundennr = ?", (customer,))
                with sqlite3.connect(demo / "crm.db") as crm:
                    crm.execute(
                        "UPDATE accounts SET city = 'Kassel', updated_at = '2099-01-01 00:00:00' WHERE external_id = ?",
                        (customer,),
                    )
            store.close()
            mail = _wait_for(lambda: mailbox.messages[1:], "the digest of the conflict", process)[0]
            assert mail["Subject"] == "einklang: 1 neuer Konflikt"
            assert customer in mail.get_content() and '"Kiel"' in mail.get_content()
            metrics = _wait_for(
                lambda: (
                    (text := httpx.get(f"{base}/metrics", timeout=30).text)
                    and "einklang_notifications_sent_total" in text
                    and text
                ),
                "the sent digest in /metrics",
                process,
            )
            assert 'einklang_conflicts_open{entity="company"} 1.0' in metrics
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=300) == 0
            assert len(mailbox.messages) == 2  # each event reported once
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
