"""The state store's database: engine, migrations, transactions, runs and the sync lock.

SQLite (WAL) by default, PostgreSQL for larger set-ups. The queries live beside this module,
one function per operation, each taking the connection of the caller's transaction:
:mod:`~einklang.store.links` (golden records and links), :mod:`~einklang.store.changes`
(captured changes, cursors, snapshots), :mod:`~einklang.store.outbox`,
:mod:`~einklang.store.conflicts`, :mod:`~einklang.store.journal` (audit log and problems),
:mod:`~einklang.store.health` and :mod:`~einklang.store.imports`. A crash therefore leaves the
store either before or after a step, never in between.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from einklang.config import LoadedConfig
from einklang.masking import mask
from einklang.store import schema as t
from einklang.store.load_indexes import ensure_indexes

T = TypeVar("T")

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"


# rows per IN (...) list: far below SQLite's and PostgreSQL's parameter limits
CHUNK = 500


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _alembic_config() -> AlembicConfig:
    # Alembic is imported where migrations are looked at: reading commands (status) start faster
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


# advisory lock key on PostgreSQL held while migrating ("einm")
_MIGRATION_LOCK = 0x65696E6D

# SQLite's default: checkpoint the WAL into the database file when it reaches 1,000 pages (4 MB).
_WAL_AUTOCHECKPOINT = 1000
_BULK_WAL_AUTOCHECKPOINT = 100_000


def create_engine_for(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


class StateStoreError(Exception):
    """The state store cannot be used as it is (damaged, someone else's database, ...)."""


# einklang's tables, and Alembic's bookkeeping of their revision
_OWN_TABLES = {*t.metadata.tables, "alembic_version"}


class StateStore:
    def __init__(self, url: str, *, allow_foreign_tables: bool = False) -> None:
        """``allow_foreign_tables``: einklang may add its tables to a database that holds others."""
        self.url = url
        self.allow_foreign_tables = allow_foreign_tables
        if url.startswith("sqlite:///"):
            db_path = url.removeprefix("sqlite:///")
            if db_path and db_path != ":memory:":
                Path(db_path).parent.mkdir(parents=True, exist_ok=True)
                # links, base values and the audit log are the company's data: readable by its owner only
                # (SQLite gives its -wal and -shm files the same permissions)
                os.close(os.open(db_path, os.O_CREAT | os.O_WRONLY, 0o600))
        self.engine = create_engine_for(url)
        self._fences = threading.local()
        self._wal_autocheckpoint = _WAL_AUTOCHECKPOINT
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "checkout", self._apply_wal_autocheckpoint)

    def _apply_wal_autocheckpoint(self, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if record.info.get("wal_autocheckpoint") != self._wal_autocheckpoint:
            dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={int(self._wal_autocheckpoint)}")
            record.info["wal_autocheckpoint"] = self._wal_autocheckpoint

    @contextmanager
    def bulk_writes(self) -> Iterator[None]:
        """Many large transactions ahead (an initial load): on SQLite the WAL is checkpointed once
        at the end instead of every 4 MB — index pages written again and again reach the database
        file once, and the fsync of every checkpoint is saved (commits took a quarter of the state
        store's time in a 100,000-record load)."""
        if self.engine.dialect.name != "sqlite":
            yield
            return
        self._wal_autocheckpoint = _BULK_WAL_AUTOCHECKPOINT
        try:
            yield
        finally:
            self._wal_autocheckpoint = _WAL_AUTOCHECKPOINT
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    # ------------------------------------------------------------------ schema
    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            from alembic.runtime.migration import MigrationContext

            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(_alembic_config()).get_current_head()

    def foreign_tables(self) -> list[str]:
        """Tables in the state database that are not einklang's."""
        with self.read() as conn:
            return sorted(set(sa.inspect(conn).get_table_names()) - _OWN_TABLES)

    def migrate(self) -> tuple[str | None, str | None]:
        """Bring the schema to the newest revision; return (before, after).

        A database that holds other tables and no einklang schema yet is refused (a ``state:``
        URL pointing at the ERP's own database), unless ``allow_foreign_tables`` says so.
        """
        before = self._readable(self.current_revision)
        head = self.head_revision()
        if before is None and not self.allow_foreign_tables:
            foreign = self.foreign_tables()
            if foreign:
                shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
                raise StateStoreError(
                    f"the state database already holds {len(foreign)} table(s) that are not einklang's ({shown}); "
                    "einklang keeps its state in a database of its own: point `state:` at an empty database, "
                    "or set `state_shared_database: true` to add einklang's tables there anyway"
                )
        if before != head:
            from alembic import command

            config = _alembic_config()
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    # several processes may start at once (sync workers, serve): one migrates, the
                    # others wait here and then find the schema at head (Alembic reads it after the lock)
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        return before, head

    def check(self) -> str:
        """A short description of the state store; raises StateStoreError when it cannot be used."""
        revision = self._readable(self.current_revision)
        if revision is not None:
            self._readable(self._integrity)
        elif not self.allow_foreign_tables and self._readable(self.foreign_tables):
            self.migrate()  # raises the refusal with the tables it found
        if revision != self.head_revision():
            return f"schema at {revision or 'none'}, will migrate to {self.head_revision()}"
        return f"schema {revision}"

    def _integrity(self) -> None:
        if self.engine.dialect.name != "sqlite":
            return
        with self.read() as conn:
            verdict = conn.exec_driver_sql("PRAGMA quick_check").scalar()
        if verdict != "ok":
            raise StateStoreError(f"the state store file is damaged: {verdict}")

    def _readable(self, action: Callable[[], T]) -> T:
        """``action``, with a damaged or foreign database file reported as such."""
        try:
            return action()
        except sa.exc.DatabaseError as exc:
            reason = " ".join(str(exc.orig).split()) if exc.orig is not None else str(exc)
            raise StateStoreError(
                f"the state store {mask(self.url)} cannot be read: {reason}. Is it an einklang state store? "
                "A damaged file can be restored from a backup; `einklang relink` rebuilds links by keys"
            ) from None

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction: committed when the block ends, rolled back if it raises.

        Under a fence (:meth:`fenced`) the transaction first checks the fence and raises, before
        anything is written, when this worker no longer holds the lease the fence guards."""
        with self.engine.begin() as conn:
            fence = getattr(self._fences, "current", None)
            if fence is not None:
                fence(conn)
            yield conn

    @contextmanager
    def fenced(self, check: Callable[[Connection], None]) -> Iterator[None]:
        """Run every transaction this thread opens in the block behind ``check`` (a sync worker's
        lease, :mod:`einklang.store.leases`). Thread-local: other threads (the web app of
        ``einklang serve``) keep writing unfenced."""
        previous = getattr(self._fences, "current", None)
        self._fences.current = check
        try:
            yield
        finally:
            self._fences.current = previous

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reading (nothing it does is committed)."""
        with self.engine.connect() as conn:
            yield conn

    # ------------------------------------------------------------------ runs
    def start_run(self, kind: str, entity: str | None, args: Mapping[str, Any], dry_run: bool = False) -> int:
        with self.transaction() as conn:
            result = conn.execute(
                t.runs.insert().values(
                    kind=kind,
                    entity=entity,
                    args=json.dumps(args, default=str),
                    started_at=utcnow(),
                    status="dry-run" if dry_run else "running",
                )
            )
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def finish_run(self, run_id: int, status: str, summary: Mapping[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(
                t.runs.update()
                .where(t.runs.c.id == run_id)
                .values(finished_at=utcnow(), status=status, summary=json.dumps(summary, default=str))
            )

    def get_run(self, run_id: int) -> dict[str, Any] | None:
        with self.read() as conn:
            row = conn.execute(sa.select(t.runs).where(t.runs.c.id == run_id)).first()
        return run_row(row._mapping) if row else None

    def set_run_status(self, run_id: int, status: str) -> None:
        """A run's status changed after it finished (an undone import)."""
        with self.transaction() as conn:
            conn.execute(t.runs.update().where(t.runs.c.id == run_id).values(status=status))


def run_row(row: Any) -> dict[str, Any]:
    entry = dict(row)
    entry["args"] = json.loads(entry["args"]) if entry.get("args") else {}
    entry["summary"] = json.loads(entry["summary"]) if entry.get("summary") else {}
    for key in ("started_at", "finished_at"):
        if entry.get(key) is not None:
            entry[key] = entry[key].isoformat(timespec="seconds")
    return entry


def store_for_config(config: LoadedConfig, migrate: bool = True) -> StateStore:
    """The state store a config names, opened (and migrated) as it says."""
    return open_store(config.state_url, migrate, allow_foreign_tables=config.model.state_shared_database)


def open_store(url: str, migrate: bool = True, *, allow_foreign_tables: bool = False) -> StateStore:
    store = StateStore(url, allow_foreign_tables=allow_foreign_tables)
    if migrate:
        store.migrate()
        # indexes an initial load builds at its end, if one was killed before (load_indexes.py)
        ensure_indexes(store)
    return store
