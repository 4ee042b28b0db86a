"""Each system's circuit-breaker state, kept across cycles and processes."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from einklang.masking import mask
from einklang.store import schema as t
from einklang.store.rows import Health
from einklang.store.state import utcnow


def load_health(conn: Connection) -> dict[str, Health]:
    return {
        row.system: Health(row.failures, row.open_until, row.last_error)
        for row in conn.execute(sa.select(t.system_health))
    }


def save_health(conn: Connection, system: str, health: Health) -> None:
    # an error quoting a connection string must not carry its password into the store
    last_error = mask(health.last_error) if health.last_error else None
    values = {
        "failures": health.failures,
        "open_until": health.open_until,
        "last_error": last_error,
        "updated_at": utcnow(),
    }
    updated = conn.execute(t.system_health.update().where(t.system_health.c.system == system).values(**values))
    if updated.rowcount == 0:
        conn.execute(t.system_health.insert().values(system=system, **values))
