"""/healthz, /readyz, /metrics: what an administrator's monitoring sees, and the metrics token."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from einklang.service.app import build_service_app
from einklang.service.metrics import ServiceMetrics
from einklang.service.runtime import CycleOutcome, ServiceRuntime
from einklang.store.health import save_health
from einklang.store.rows import Health
from einklang.store.state import StateStore, store_for_config, utcnow

from .world import edit_crm_city, edit_erp_city, linked_world, wait_for


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(text: str, name: str, **labels: str) -> float | None:
    return _samples(text).get((name, tuple(sorted(labels.items()))))


def test_metrics_count_cycles_and_read_what_waits_from_the_store(tmp_path: Path) -> None:
    loaded = linked_world(tmp_path, interval=3600)
    store = store_for_config(loaded)
    metrics = ServiceMetrics(loaded, store)
    seen: list[CycleOutcome] = []
    runtime = ServiceRuntime(loaded, store, listeners=[metrics.observe, seen.append])
    runtime.start()
    try:
        wait_for(lambda: seen, "the first cycle")
        edit_erp_city(tmp_path, "K1", "Kiel")  # the same field changed differently: a conflict
        edit_crm_city(tmp_path, "K1", "Kassel")
        edit_erp_city(tmp_path, "K2", "Lübeck")  # and one plain change that is applied
        runtime.trigger("company")
        wait_for(lambda: any(o.report and o.report.conflicts for o in seen), "the conflict")
    finally:
        runtime.stop(timeout=60)
    with store.transaction() as conn:  # the CRM failed a moment ago: its breaker is open
        save_health(conn, "crm", Health(failures=2, open_until=utcnow().replace(year=2100), last_error="refused"))
    text = metrics.render().decode()
    assert _value(text, "einklang_conflicts_open", entity="company") == 1
    assert _value(text, "einklang_changes_read_total", entity="company") == 3  # K1 in both systems, K2 in the ERP
    assert _value(text, "einklang_changes_applied_total", entity="company") == 1
    assert _value(text, "einklang_cycle_duration_seconds_count", entity="company") == len(seen)
    assert _value(text, "einklang_outbox_entries", system="crm", status="pending") == 0
    assert _value(text, "einklang_outbox_entries", system="erp", status="failed") == 0
    assert _value(text, "einklang_breaker_state", system="crm") == 2
    assert _value(text, "einklang_breaker_state", system="erp") == 0
    assert _value(text, "einklang_state_store_up") == 1
    last_cycle = seen[-1].schedule.last_finished
    assert last_cycle is not None
    entity_success = _value(text, "einklang_entity_last_success_timestamp_seconds", entity="company")
    assert entity_success is not None and entity_success >= last_cycle.timestamp() - 86400  # naive UTC, not local
    assert _value(text, "einklang_system_last_success_timestamp_seconds", system="erp") == entity_success
    # after a restart: the gauges come from the store, the last success from the last ok sync run
    restarted = ServiceMetrics(loaded, store).render().decode()
    assert _value(restarted, "einklang_conflicts_open", entity="company") == 1
    assert _value(restarted, "einklang_breaker_state", system="crm") == 2
    assert _value(restarted, "einklang_changes_read_total", entity="company") is None  # counters start anew
    assert _value(restarted, "einklang_entity_last_success_timestamp_seconds", entity="company") is not None
    store.close()


@pytest.fixture
def client_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def build(service: dict[str, object] | None = None, store: StateStore | None = None) -> TestClient:
        loaded = linked_world(tmp_path, service=service)
        used = store or store_for_config(loaded)
        runtime = ServiceRuntime(loaded, used)
        return TestClient(build_service_app(loaded, used, runtime, ServiceMetrics(loaded, used)))

    monkeypatch.delenv("EINKLANG_METRICS_TOKEN", raising=False)
    return build


def test_health_and_readiness_need_no_login(client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for()
    assert client.get("/healthz").json() == {"ok": True, "scheduler": "stopped"}
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json()["ok"]) == (200, True)
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and "einklang_conflicts_open" in metrics.text


def test_readyz_says_503_when_the_state_store_does_not_answer(client_for) -> None:  # type: ignore[no-untyped-def]
    unreachable = StateStore("postgresql+psycopg://einklang:pw@127.0.0.1:1/state")  # nothing listens on port 1
    client = client_for(store=unreachable)
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json()["ok"], ready.json()["state_store"]) == (503, False, "unreachable")
    assert ":pw@" not in ready.text
    assert client.get("/healthz").status_code == 200  # alive, though not ready
    scraped = client.get("/metrics")
    assert scraped.status_code == 200 and _value(scraped.text, "einklang_state_store_up") == 0


def test_metrics_token_from_the_config(client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for(service={"metrics_token": "s3cret-metrics-token"})
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Basic s3cret-metrics-token"}).status_code == 401
    allowed = client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"})
    assert allowed.status_code == 200 and re.search(r"^einklang_conflicts_open", allowed.text, re.M)
    assert client.get("/healthz").status_code == 200  # the token guards /metrics only


def test_metrics_token_from_the_environment(client_for, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("EINKLANG_METRICS_TOKEN", "from-the-environment")
    client = client_for()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer from-the-environment"}).status_code == 200
