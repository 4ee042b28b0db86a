"""BottleCRM: reading changes through the activity feed (O(changes)), and its webhooks, against a
real django-crm 1.35.

Webhook deliveries: BottleCRM refuses to send to loopback and private addresses (its SSRF guard,
``webhooks/ssrf.py``), so in this set-up it cannot reach ``einklang serve`` on 127.0.0.1. The
tests register an endpoint in BottleCRM, let BottleCRM record the delivery of a real change
(the send itself fails on the guard), and take the request BottleCRM's own code builds for it
(``webhooks.tasks.build_request``: body, headers, signature) from BottleCRM's database; that
exact request is then posted to the route of a running einklang service.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from starlette.testclient import TestClient

from einklang.connectors.base import ChangePage
from einklang.connectors.bottlecrm import BottleCrmConnector
from einklang.connectors.bottlecrm.connector import RecordUpdate

try:  # tests/ may or may not be a package, depending on who adds __init__ files
    from tests.integration.servers import (
        SERVERS_DIR,
        RunningServer,
        bottlecrm_running,
        bottlecrm_server,
        radicale_server,
    )
except ImportError:  # pragma: no cover
    from servers import (  # type: ignore[no-redef]
        SERVERS_DIR,
        RunningServer,
        bottlecrm_running,
        bottlecrm_server,
        radicale_server,
    )

__all__ = ["bottlecrm_running", "bottlecrm_server", "radicale_server"]

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts" / "servers"
ENTITIES = {"person": {"resource": "contact"}}


class Counting(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(f"{request.method} {request.url.path}")
        return super().handle_request(request)


class Versions:
    """The versions the engine's snapshot store would hold."""

    def __init__(self) -> None:
        self.versions: dict[str, str] = {}

    def hashes(self, ids: Any) -> dict[str, str]:
        return {i: self.versions[i] for i in ids if i in self.versions}

    def known_ids(self) -> Iterator[str]:
        return iter(list(self.versions))

    def store(self, pages: list[ChangePage]) -> None:
        for page in pages:
            self.versions.update({r.native_id: r.version or "" for r in page.records})
            for gone in page.deleted_ids:
                self.versions.pop(gone, None)


def person(index: int) -> dict[str, Any]:
    return {"first_name": f"P{index}", "last_name": "Muster", "email": f"p{index}@example.org"}


def read(crm: BottleCrmConnector, cursor: Any, versions: Versions) -> tuple[list[str], list[str], Any]:
    pages = list(crm.read_changes("person", cursor, versions))  # type: ignore[arg-type]
    versions.store(pages)
    return (
        sorted(r.native_id for p in pages for r in p.records),
        sorted(i for p in pages for i in p.deleted_ids),
        pages[-1].cursor if pages else cursor,
    )


@pytest.mark.integration
def test_a_quiet_cycle_costs_one_request_and_k_changes_cost_k_reads(bottlecrm_server: RunningServer) -> None:
    transport = Counting()
    settings = {"url": bottlecrm_server.url, "token": bottlecrm_server.info["token"], "page_size": 5}
    crm = BottleCrmConnector("crm", {**settings, "overlap_seconds": 0}, ENTITIES, transport=transport)
    people = crm.create("person", [person(i) for i in range(12)])
    versions = Versions()
    everything, _, cursor = read(crm, None, versions)  # the first read reconciles: the whole list
    assert everything == sorted(p.native_id for p in people)
    assert transport.paths.count("GET /api/contacts/") == 3  # 12 contacts, pages of 5

    transport.paths.clear()
    assert read(crm, cursor, versions)[:2] == ([], [])
    assert transport.paths == ["GET /api/activities/"]  # quiet: the feed alone, whatever the count

    list(crm.update_many("person", [RecordUpdate(p.native_id, {"city": "Bonn"}, p.version) for p in people[:2]]))
    crm.delete("person", people[5].native_id, None)
    transport.paths.clear()
    changed, deleted, cursor = read(crm, cursor, versions)
    assert changed == sorted(p.native_id for p in people[:2]) and deleted == [people[5].native_id]
    assert transport.paths[0] == "GET /api/activities/" and "GET /api/contacts/" not in transport.paths
    assert len(transport.paths) == 1 + 3  # the feed, then the three records it names
    assert read(crm, cursor, versions)[:2] == ([], [])
    crm.close()


@pytest.mark.integration
def test_reconciliation_finds_what_the_feed_cannot_show(bottlecrm_server: RunningServer) -> None:
    settings = {"url": bottlecrm_server.url, "token": bottlecrm_server.info["token"], "overlap_seconds": 0}
    crm = BottleCrmConnector("crm", settings, ENTITIES)
    people = crm.create("person", [person(i) for i in range(3)])
    versions = Versions()
    _, _, cursor = read(crm, None, versions)
    # a change without a request (a bulk update, an import) writes no activity: the feed misses it
    quiet_update = (
        "from django.utils import timezone; from contacts.models import Contact; "
        f"Contact.objects.filter(id='{people[1].native_id}').update(city='Stille', updated_at=timezone.now())"
    )
    django_shell(bottlecrm_server, quiet_update)
    assert read(crm, cursor, versions)[:2] == ([], [])
    # ... the reconciliation (here due at once) compares every version
    reconciling = BottleCrmConnector("crm", {**settings, "reconcile_seconds": 0}, ENTITIES)
    changed, _, cursor = read(reconciling, cursor, versions)
    assert changed == [people[1].native_id]
    # more than 50 activities since the cursor: the feed cannot show them all, so the list is read
    crm.create("person", [person(i) for i in range(10, 61)])
    changed, _, _ = read(crm, cursor, versions)
    assert len(changed) == 51
    crm.close()
    reconciling.close()


# --- webhooks --------------------------------------------------------------------------------


def django_shell(server: RunningServer, code: str) -> str:
    environ = {
        **os.environ,
        "PYTHONPATH": str(SCRIPTS),
        "DJANGO_SETTINGS_MODULE": "einklang_bottlecrm_settings",
        "BOTTLECRM_SQLITE": str(server.instance_dir / "db.sqlite3"),
    }
    done = subprocess.run(
        [str(SERVERS_DIR / "bottlecrm" / "venv" / "bin" / "django-admin"), "shell", "-c", code],
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


REGISTER_ENDPOINT = """
from common.models import Org, User
from webhooks.models import WebhookEndpoint
endpoint = WebhookEndpoint.objects.create(
    org=Org.objects.get(name="Einklang Demo"),
    url="https://einklang.example/hooks/bottlecrm/crm",
    events=["contact.created", "contact.updated", "contact.deleted"],
    created_by=User.objects.get(email="admin@example.com"),
)
print(endpoint.secret)
"""

BUILT_REQUESTS = """
import json
from webhooks.models import WebhookDelivery
from webhooks.tasks import build_request
built = []
for delivery in WebhookDelivery.objects.select_related("endpoint").order_by("created_at"):
    body, headers = build_request(delivery)
    built.append({"body": body.decode(), "headers": headers, "error": delivery.error})
print(json.dumps(built))
"""


def built_requests(server: RunningServer) -> list[dict[str, Any]]:
    output = django_shell(server, BUILT_REQUESTS).strip().splitlines()[-1]
    return list(json.loads(output))


@pytest.mark.integration
def test_a_delivery_built_by_bottlecrm_is_verified_and_queues_its_record(bottlecrm_server: RunningServer) -> None:
    secret = django_shell(bottlecrm_server, REGISTER_ENDPOINT).strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    settings = {"url": bottlecrm_server.url, "token": bottlecrm_server.info["token"], "webhook_secret": secret}
    crm = BottleCrmConnector("crm", settings, ENTITIES)
    [created] = crm.create("person", [person(1)])
    [delivery] = built_requests(bottlecrm_server)
    assert delivery["error"]  # BottleCRM tried to send it and could not (no such host from here)
    body, headers = delivery["body"].encode(), delivery["headers"]
    assert headers["X-BottleCRM-Event"] == "contact.created"
    receipt = crm.receive_webhook(headers, body)
    assert (receipt.record_id, receipt.entities) == (created.native_id, ("person",))
    assert crm.inbox.waiting("contact") == {created.native_id}

    from einklang.connectors.bottlecrm.webhooks import WebhookRefused

    with pytest.raises(WebhookRefused) as refused:
        crm.receive_webhook(headers, body.replace(b"P1", b"P2"))  # the body changed on the way
    assert refused.value.reason == "bad_signature"
    wrong = BottleCrmConnector("crm", {**settings, "webhook_secret": "whsec_other"}, ENTITIES)
    with pytest.raises(WebhookRefused):
        wrong.receive_webhook(headers, body)
    crm.close()
    wrong.close()


ADDRESS_BOOK_CONFIG = """
state: sqlite:///einklang.db
systems:
  crm: {connector: bottlecrm, url: "${CRM_URL}", token: "${CRM_TOKEN}", webhook_secret: "${CRM_WEBHOOK_SECRET}"}
  addressbook: {connector: carddav, url: "${DAV_URL}", user: "${DAV_USER}", password: "${DAV_PASSWORD}"}
entities:
  contact:
    keys: [email]
    fields: {first_name: str, last_name: {type: str, required: true}, email: email, city: str}
    systems:
      crm: {resource: contact, map: {first_name: first_name, last_name: last_name, email: email, city: city}}
      addressbook: {map: {first_name: first_name, last_name: last_name, email: email, city: city}}
    sync: {interval: 3600}
"""


@pytest.mark.integration
def test_serve_takes_bottlecrms_delivery_and_syncs_the_record_at_once(
    tmp_path: Path,
    bottlecrm_server: RunningServer,
    radicale_server: RunningServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from einklang.config import load_config
    from einklang.service.app import build_service_app
    from einklang.service.metrics import ServiceMetrics
    from einklang.service.runtime import CycleOutcome, ServiceRuntime
    from einklang.store.state import store_for_config

    secret = django_shell(bottlecrm_server, REGISTER_ENDPOINT).strip().splitlines()[-1]
    dav = radicale_server.info
    for name, value in {
        "CRM_URL": bottlecrm_server.url,
        "CRM_TOKEN": bottlecrm_server.info["token"],
        "CRM_WEBHOOK_SECRET": secret,
        "DAV_URL": dav["addressbook"],
        "DAV_USER": dav["user"],
        "DAV_PASSWORD": dav["password"],
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("EINKLANG_METRICS_TOKEN", raising=False)
    (tmp_path / "einklang.yaml").write_text(ADDRESS_BOOK_CONFIG)
    loaded = load_config(tmp_path / "einklang.yaml")
    assert yaml.safe_load(ADDRESS_BOOK_CONFIG)["entities"]["contact"]["sync"]["interval"] == 3600
    store = store_for_config(loaded)
    metrics = ServiceMetrics(loaded, store)
    cycles: list[CycleOutcome] = []
    runtime = ServiceRuntime(loaded, store, listeners=[metrics.observe, cycles.append])
    client = TestClient(build_service_app(loaded, store, runtime, metrics))
    runtime.start()
    try:
        wait_for(lambda: cycles, "the first cycle")
        backdoor = httpx.Client(
            base_url=bottlecrm_server.url, headers={"Authorization": f"Bearer {bottlecrm_server.info['token']}"}
        )
        backdoor.post(
            "/api/contacts/", json={"first_name": "Hanna", "last_name": "Hook", "email": "hanna@example.org"}
        ).raise_for_status()
        [delivery] = built_requests(bottlecrm_server)
        # the next cycle is an hour away: only the delivery can bring the contact over now
        answer = client.post("/hooks/bottlecrm/crm", content=delivery["body"], headers=delivery["headers"])
        assert answer.status_code == 202 and answer.json()["entities"] == ["contact"]
        wait_for(lambda: "hanna@example.org" in address_book_emails(loaded), "the contact in the address book")

        unsigned = {k: v for k, v in delivery["headers"].items() if k != "X-BottleCRM-Signature"}
        assert client.post("/hooks/bottlecrm/crm", content=delivery["body"], headers=unsigned).status_code == 401
        assert client.post("/hooks/bottlecrm/addressbook", content=b"{}").status_code == 404
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(client.get("/metrics").text)
            for s in family.samples
        }
        assert samples[("einklang_webhooks_refused_total", (("reason", "unsigned"), ("system", "crm")))] == 1
        assert samples[("einklang_webhooks_received_total", (("event", "contact.created"), ("system", "crm")))] == 1
        assert secret not in client.get("/metrics").text
    finally:
        runtime.stop(timeout=120)
        store.close()


def address_book_emails(loaded: Any) -> set[str]:
    from einklang.systems import open_connector

    with open_connector(loaded, "addressbook") as connector:  # its own, not the scheduler's
        return {str(r.fields.get("email")) for page in connector.read_all("contact") for r in page}


def wait_for(condition: Any, what: str, deadline: float = 120.0) -> Any:
    import time

    until = time.monotonic() + deadline
    while time.monotonic() < until:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")
