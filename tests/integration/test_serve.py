"""``einklang serve`` as a process: the demo folder, HTTP endpoints, a real sync, SIGTERM.

Needs no server beyond SQLite, so it never skips. Everything is polled with generous deadlines;
no time is asserted.
"""

from __future__ import annotations

import os
import signal
import socket
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

EINKLANG = [sys.executable, "-m", "einklang"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(condition: Callable[[], Any], what: str, process: subprocess.Popen[str], deadline: float = 120) -> Any:
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
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    folder = tmp_path / "demo"
    subprocess.run(
        [*EINKLANG, "demo", "--dir", str(folder), "--customers", "30", "--json"],
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
    port = _free_port()
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

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 0
    with sqlite3.connect(folder / "einklang.db") as state:
        statuses = {row[0] for row in state.execute("SELECT status FROM runs WHERE kind = 'sync'")}
        holders = state.execute("SELECT count(*) FROM locks").fetchone()[0]
    assert "running" not in statuses and "ok" in statuses
    assert holders == 0  # the writer lock was given back
    lines = (folder / "serve.log").read_text().splitlines()
    assert any('"einklang serve: stopped"' in line for line in lines)
