"""``POST /hooks/bottlecrm/{system}`` without a BottleCRM: what is accepted, refused and counted.

The CRM's address answers nothing, so the scheduler's cycles find it unavailable; the route does
not need it. A delivery exactly as BottleCRM builds it, against the real server, is in
tests/integration/test_bottlecrm_changes.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from einklang.config import load_config
from einklang.connectors.bottlecrm import BottleCrmConnector
from einklang.connectors.bottlecrm.webhooks import sign
from einklang.service.app import build_service_app
from einklang.service.metrics import ServiceMetrics
from einklang.service.runtime import ServiceRuntime
from einklang.store.state import store_for_config

SECRET = "whsec_unit-test-secret"
CONFIG = """
state: sqlite:///einklang.db
systems:
  crm: {connector: bottlecrm, url: "http://127.0.0.1:9", token: x, webhook_secret: "${CRM_WEBHOOK_SECRET}",
        retry_attempts: 1, timeout: 1}
  plain: {connector: bottlecrm, url: "http://127.0.0.1:9", token: x, retry_attempts: 1, timeout: 1}
entities:
  contact:
    fields: {first_name: str, last_name: str, email: email}
    systems:
      crm: {resource: contact, map: {first_name: first_name, last_name: last_name, email: email}}
      plain: {resource: contact, map: {first_name: first_name, last_name: last_name, email: email}}
    sync: {interval: 3600}
"""


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, ServiceRuntime]]:
    monkeypatch.setenv("CRM_WEBHOOK_SECRET", SECRET)
    monkeypatch.delenv("EINKLANG_METRICS_TOKEN", raising=False)
    (tmp_path / "einklang.yaml").write_text(CONFIG)
    loaded = load_config(tmp_path / "einklang.yaml")
    store = store_for_config(loaded)
    runtime = ServiceRuntime(loaded, store)
    client = TestClient(build_service_app(loaded, store, runtime, ServiceMetrics(loaded, store)))
    assert client.post("/hooks/bottlecrm/crm", content=b"{}").status_code == 503  # not started yet
    runtime.start()
    yield client, runtime
    runtime.stop(timeout=60)
    store.close()


def signed(event: str, record_id: str | None) -> tuple[bytes, dict[str, str]]:
    data = {"id": record_id} if record_id else {}
    body = json.dumps({"id": "e-1", "event": event, "org_id": "o", "data": data}, separators=(",", ":")).encode()
    return body, {"X-BottleCRM-Signature": sign(SECRET, int(time.time()), body), "X-BottleCRM-Event": event}


def counted(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for sample in family.samples
        if sample.name.startswith("einklang_webhooks")
    }


def test_a_signed_delivery_queues_its_record_and_a_bad_one_is_refused(
    service: tuple[TestClient, ServiceRuntime],
) -> None:
    client, runtime = service
    body, headers = signed("contact.updated", "c-1")
    answer = client.post("/hooks/bottlecrm/crm", content=body, headers=headers)
    assert answer.status_code == 202 and answer.json()["entities"] == ["contact"]
    connector = runtime.connector("crm")
    assert isinstance(connector, BottleCrmConnector) and connector.inbox.waiting("contact") <= {"c-1"}

    ping, ping_headers = signed("ping", None)
    assert client.post("/hooks/bottlecrm/crm", content=ping, headers=ping_headers).status_code == 200
    assert client.post("/hooks/bottlecrm/crm", content=body).status_code == 401
    forged = {**headers, "X-BottleCRM-Signature": sign("whsec_guess", int(time.time()), body)}
    assert client.post("/hooks/bottlecrm/crm", content=body, headers=forged).status_code == 401
    old = {**headers, "X-BottleCRM-Signature": sign(SECRET, int(time.time()) - 3600, body)}
    assert client.post("/hooks/bottlecrm/crm", content=body, headers=old).status_code == 401
    assert client.post("/hooks/bottlecrm/plain", content=body, headers=headers).status_code == 404  # no secret
    assert client.post("/hooks/bottlecrm/other", content=body, headers=headers).status_code == 404
    assert client.post("/hooks/bottlecrm/crm", content=b"x" * 300_000, headers=headers).status_code == 413

    metrics = counted(client)
    assert metrics[("einklang_webhooks_received_total", (("event", "contact.updated"), ("system", "crm")))] == 1
    assert metrics[("einklang_webhooks_received_total", (("event", "ping"), ("system", "crm")))] == 1
    assert metrics[("einklang_webhooks_refused_total", (("reason", "unsigned"), ("system", "crm")))] == 1
    assert metrics[("einklang_webhooks_refused_total", (("reason", "bad_signature"), ("system", "crm")))] == 1
    assert metrics[("einklang_webhooks_refused_total", (("reason", "expired"), ("system", "crm")))] == 1
    assert SECRET not in client.get("/metrics").text
