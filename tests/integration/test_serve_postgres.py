"""The service's own queries (metrics gauges, notification events and marks) on a PostgreSQL state store.

SQLite is what the unit tests use; production runs on PostgreSQL (docs/operations.md), whose SQL
differs where these queries build event keys (string concatenation, casts) and correlate marks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url
from tests.integration.conftest import POSTGRES_ADMIN_URL, database_server_missing, scratch_database_name
from tests.unit.service.receivers import free_port, smtp_server, webhook_receiver
from tests.unit.service.world import edit_crm_city, edit_erp_city, linked_world, wait_for

from einklang.service.metrics import ServiceMetrics
from einklang.service.notifier import Notifier
from einklang.service.runtime import CycleOutcome, ServiceRuntime
from einklang.store.state import store_for_config

pytestmark = pytest.mark.integration


@pytest.fixture
def postgres_state_url() -> Iterator[str]:
    admin_url = make_url(POSTGRES_ADMIN_URL)
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = scratch_database_name()
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.DBAPIError as error:
        admin.dispose()
        database_server_missing(f"PostgreSQL is not reachable: {' '.join(str(error.orig).split())}")
        return
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_scheduler_metrics_and_notifications_on_postgres(tmp_path: Path, postgres_state_url: str) -> None:
    port = free_port()
    with smtp_server(port) as mailbox, webhook_receiver() as hook:
        service = {
            "notifications": {
                "min_interval": 0,
                "email": {
                    "smtp_host": "127.0.0.1",
                    "smtp_port": port,
                    "starttls": False,
                    "from": "einklang@example.com",
                    "to": [{"address": "buero@example.com"}],
                },
                "webhook": {"url": hook.url},
            }
        }
        loaded = linked_world(tmp_path, service=service, state=postgres_state_url)
        store = store_for_config(loaded)
        assert store.engine.dialect.name == "postgresql"
        metrics = ServiceMetrics(loaded, store)
        seen: list[CycleOutcome] = []
        runtime = ServiceRuntime(loaded, store, listeners=[metrics.observe, seen.append])
        runtime.start()
        try:
            wait_for(lambda: seen, "the first cycle")
            edit_erp_city(tmp_path, "K1", "Kiel")
            edit_crm_city(tmp_path, "K1", "Kassel")
            runtime.trigger("company")
            wait_for(lambda: any(o.report and o.report.conflicts for o in seen), "the conflict")
        finally:
            runtime.stop(timeout=60)
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(metrics.render().decode())
            for sample in family.samples
        }
        assert samples[("einklang_conflicts_open", (("entity", "company"),))] == 1
        assert samples[("einklang_state_store_up", ())] == 1
        notifier = Notifier(loaded, store)
        assert sorted((d.channel, d.events, d.error) for d in notifier.run_once()) == [
            ("email:buero@example.com", 1, None),
            ("webhook", 1, None),
        ]
        assert notifier.run_once() == []  # marked: reported once
        assert len(mailbox.messages) == 1 and "K1 Firma 1" in mailbox.messages[0].get_content()
        assert len(hook.requests) == 1
        store.close()
