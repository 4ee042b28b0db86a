"""Migration 0006 (web accounts, review row details and assignment, the web app's indexes)
creates exactly what ``store/schema.py`` declares, and goes down again."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from einklang.store import schema as t
from einklang.store.state import _alembic_config, open_store


def test_the_migrated_store_matches_the_declared_schema(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    with store.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), t.metadata)
    store.close()
    assert differences == []


def test_0006_goes_down_to_0005_and_up_again(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    config = _alembic_config()
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0005_review_rows")
    inspector = sa.inspect(store.engine)
    assert "users" not in inspector.get_table_names()
    assert "assigned_to" not in {c["name"] for c in inspector.get_columns("review_rows")}
    store.migrate()
    inspector = sa.inspect(store.engine)
    assert {"users", "web_sessions", "api_tokens"} <= set(inspector.get_table_names())
    assert {"details", "assigned_to"} <= {c["name"] for c in inspector.get_columns("review_rows")}
    store.close()
