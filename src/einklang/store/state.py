"""State store access. SQLite (WAL) by default, PostgreSQL for larger set-ups.

Every method that changes state takes or opens one transaction, so a crash leaves the store
either before or after the step, never in between.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from einklang.connectors.base import SnapshotStore
from einklang.model import CanonicalRecord, decode_record, encode_record, record_hash, record_json
from einklang.sql_bulk import driver_value, insert_rows
from einklang.store import schema as t
from einklang.store.ids import new_golden_ids

MIGRATIONS = Path(__file__).parent / "migrations"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Link:
    golden_id: str
    system: str
    native_id: str
    version: str | None
    record_hash: str | None


def _alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


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


class StateStore:
    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite:///"):
            db_path = url.removeprefix("sqlite:///")
            if db_path and db_path != ":memory:":
                Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine_for(url)
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
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(_alembic_config()).get_current_head()

    def migrate(self) -> tuple[str | None, str | None]:
        """Bring the schema to the newest revision; return (before, after)."""
        before = self.current_revision()
        head = self.head_revision()
        if before != head:
            config = _alembic_config()
            with self.engine.begin() as conn:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        return before, head

    def check(self) -> str:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        revision = self.current_revision()
        if revision != self.head_revision():
            return f"schema at {revision or 'none'}, will migrate to {self.head_revision()}"
        return f"schema {revision}"

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
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

    def last_run(self, entity: str | None = None) -> dict[str, Any] | None:
        query = sa.select(t.runs).order_by(t.runs.c.id.desc()).limit(1)
        if entity:
            query = query.where(t.runs.c.entity == entity)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _run_row(row._mapping) if row else None

    # ------------------------------------------------------------------ golden + links
    def links_for_natives(self, system: str, entity: str, native_ids: Sequence[str]) -> dict[str, Link]:
        if not native_ids:
            return {}
        found: dict[str, Link] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(native_ids), 500):
                chunk = list(native_ids[start : start + 500])
                rows = conn.execute(
                    sa.select(t.links).where(
                        t.links.c.system == system, t.links.c.entity == entity, t.links.c.native_id.in_(chunk)
                    )
                )
                for row in rows:
                    found[row.native_id] = _link(row._mapping)
        return found

    def links_for_golden(self, golden_ids: Sequence[str]) -> dict[str, dict[str, Link]]:
        result: dict[str, dict[str, Link]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(golden_ids), 500):
                chunk = list(golden_ids[start : start + 500])
                for row in conn.execute(sa.select(t.links).where(t.links.c.golden_id.in_(chunk))):
                    result.setdefault(row.golden_id, {})[row.system] = _link(row._mapping)
        return result

    def insert_golden(self, conn: Connection, entity: str, records: Sequence[CanonicalRecord]) -> list[str]:
        ids = new_golden_ids(len(records))
        self.insert_golden_rows(
            conn, entity, [(gid, record_json(rec), record_hash(rec)) for gid, rec in zip(ids, records, strict=True)]
        )
        return ids

    def insert_golden_rows(self, conn: Connection, entity: str, rows: Sequence[tuple[str, str, str]]) -> None:
        """rows: (golden_id, base as ``record_json``, ``record_hash`` of the base)."""
        now = driver_value(conn, t.golden.c.created_at, utcnow())
        insert_rows(
            conn,
            t.golden,
            ("id", "entity", "base", "base_hash", "status", "created_at", "updated_at"),
            [(gid, entity, base, base_hash, "active", now, now) for gid, base, base_hash in rows],
        )

    def set_golden_status(self, conn: Connection, golden_id: str, status: str) -> None:
        conn.execute(t.golden.update().where(t.golden.c.id == golden_id).values(status=status, updated_at=utcnow()))

    def insert_links(
        self,
        conn: Connection,
        entity: str,
        system: str,
        rows: Sequence[tuple[str, str, str | None, str | None]],
    ) -> None:
        """rows: (golden_id, native_id, version, record_hash)."""
        now = driver_value(conn, t.links.c.created_at, utcnow())
        insert_rows(
            conn,
            t.links,
            ("golden_id", "entity", "system", "native_id", "version", "record_hash", "created_at", "updated_at"),
            [(gid, entity, system, nid, version, rhash, now, now) for gid, nid, version, rhash in rows],
        )

    def update_link(
        self,
        conn: Connection,
        system: str,
        entity: str,
        native_id: str,
        version: str | None,
        rhash: str | None,
    ) -> None:
        conn.execute(
            t.links.update()
            .where(t.links.c.system == system, t.links.c.entity == entity, t.links.c.native_id == native_id)
            .values(version=version, record_hash=rhash, updated_at=utcnow())
        )

    def delete_link(self, conn: Connection, system: str, entity: str, native_id: str) -> None:
        conn.execute(
            t.links.delete().where(
                t.links.c.system == system, t.links.c.entity == entity, t.links.c.native_id == native_id
            )
        )

    def iter_links(self, system: str, entity: str, batch: int = 5000) -> Iterator[list[Link]]:
        last_id = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(t.links)
                    .where(t.links.c.system == system, t.links.c.entity == entity, t.links.c.id > last_id)
                    .order_by(t.links.c.id)
                    .limit(batch)
                ).all()
            if not rows:
                return
            last_id = rows[-1].id
            yield [_link(row._mapping) for row in rows]

    def count_links(self, system: str, entity: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(t.links)
                    .where(t.links.c.system == system, t.links.c.entity == entity)
                ).scalar_one()
            )

    def count_golden(self, entity: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(t.golden)
                    .where(t.golden.c.entity == entity, t.golden.c.status == "active")
                ).scalar_one()
            )

    # ------------------------------------------------------------------ cursors + snapshots
    def get_cursor(self, system: str, entity: str) -> Any:
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(t.cursors.c.value).where(t.cursors.c.system == system, t.cursors.c.entity == entity)
            ).scalar_one_or_none()
        return json.loads(value) if value is not None else None

    def has_cursor(self, system: str, entity: str) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    sa.select(t.cursors.c.system).where(t.cursors.c.system == system, t.cursors.c.entity == entity)
                ).first()
                is not None
            )

    def set_cursor(self, conn: Connection, system: str, entity: str, value: Any) -> None:
        encoded = json.dumps(value, default=str)
        updated = conn.execute(
            t.cursors.update()
            .where(t.cursors.c.system == system, t.cursors.c.entity == entity)
            .values(value=encoded, updated_at=utcnow())
        )
        if updated.rowcount == 0:
            conn.execute(t.cursors.insert().values(system=system, entity=entity, value=encoded, updated_at=utcnow()))

    def snapshot_store(self, system: str, entity: str) -> DbSnapshotStore:
        return DbSnapshotStore(self, system, entity)

    def save_snapshot(
        self,
        conn: Connection,
        system: str,
        entity: str,
        hashes: Mapping[str, str],
        deleted: Sequence[str] = (),
    ) -> None:
        ids = list(hashes)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            conn.execute(
                t.snapshots.delete().where(
                    t.snapshots.c.system == system,
                    t.snapshots.c.entity == entity,
                    t.snapshots.c.native_id.in_(chunk),
                )
            )
        if hashes:
            conn.execute(
                t.snapshots.insert(),
                [{"system": system, "entity": entity, "native_id": nid, "hash": h} for nid, h in hashes.items()],
            )
        for start in range(0, len(deleted), 500):
            conn.execute(
                t.snapshots.delete().where(
                    t.snapshots.c.system == system,
                    t.snapshots.c.entity == entity,
                    t.snapshots.c.native_id.in_(list(deleted[start : start + 500])),
                )
            )

    # ------------------------------------------------------------------ outbox
    def add_outbox(self, conn: Connection, run_id: int | None, entries: Sequence[Mapping[str, Any]]) -> list[int]:
        """Entries: system, entity, golden_id, native_id, op, payload (canonical), base_version, cause.

        Returns the new ids in the order of ``entries`` (one multi-row INSERT ... RETURNING).
        """
        if not entries:
            return []
        now = utcnow()
        rows = [
            {
                "run_id": run_id,
                "system": e["system"],
                "entity": e["entity"],
                "golden_id": e["golden_id"],
                "native_id": e.get("native_id"),
                "op": e["op"],
                "payload": json.dumps(encode_record(e.get("payload") or {})),
                "base_version": e.get("base_version"),
                "cause": e["cause"],
                "status": "pending",
                "attempts": 0,
                "created_at": now,
            }
            for e in entries
        ]
        result = conn.execute(t.outbox.insert().returning(t.outbox.c.id, sort_by_parameter_order=True), rows)
        return [int(row[0]) for row in result]

    def mark_outbox_done(self, conn: Connection, outbox_ids: Sequence[int]) -> None:
        """Mark many entries done at once (the written record's native id is in its link)."""
        now = utcnow()
        for start in range(0, len(outbox_ids), 500):
            chunk = list(outbox_ids[start : start + 500])
            conn.execute(
                t.outbox.update().where(t.outbox.c.id.in_(chunk)).values(status="done", done_at=now, last_error=None)
            )

    def plan_create_batch(
        self, conn: Connection, run_id: int | None, entity: str, system: str, golden_ids: Sequence[str], cause: str
    ) -> int:
        """Plan creating ``golden_ids`` (their bases) in ``system``: one row for the whole batch.

        A bulk load writes this instead of an outbox entry per record (a pending entry and its
        completion cost more than the golden record itself); ``expand_create_batches`` turns a
        batch a crash left pending into ordinary outbox entries.
        """
        result = conn.execute(
            t.create_batches.insert().values(
                run_id=run_id,
                system=system,
                entity=entity,
                golden_ids=json.dumps(list(golden_ids)),
                cause=cause,
                status="pending",
                created_at=utcnow(),
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def finish_create_batch(self, conn: Connection, batch_id: int) -> None:
        conn.execute(
            t.create_batches.update().where(t.create_batches.c.id == batch_id).values(status="done", done_at=utcnow())
        )

    def expand_create_batches(self, system: str, entity: str) -> int:
        """Pending create batches of an interrupted run -> outbox entries for records still unlinked there.

        Returns the number of outbox entries made; recovery then finds each record in the target
        (created before the crash: linked) or creates it.
        """
        pending = sa.select(t.create_batches).where(
            t.create_batches.c.system == system,
            t.create_batches.c.entity == entity,
            t.create_batches.c.status == "pending",
        )
        with self.engine.connect() as conn:
            if conn.execute(pending.limit(1)).first() is None:
                return 0  # the usual case, checked without a write transaction
        made = 0
        with self.transaction() as conn:
            for batch in conn.execute(pending).all():
                golden_ids: list[str] = json.loads(batch.golden_ids)
                for start in range(0, len(golden_ids), 500):
                    made += self._queue_unfinished_creates(conn, batch, golden_ids[start : start + 500])
                self.finish_create_batch(conn, batch.id)
        return made

    def _queue_unfinished_creates(self, conn: Connection, batch: Any, golden_ids: list[str]) -> int:
        """Outbox creates for those of a batch's golden records that are active, unlinked, not queued."""
        system = batch.system
        done = set(
            conn.execute(
                sa.select(t.links.c.golden_id).where(t.links.c.golden_id.in_(golden_ids), t.links.c.system == system)
            ).scalars()
        )
        done.update(
            conn.execute(
                sa.select(t.outbox.c.golden_id).where(
                    t.outbox.c.golden_id.in_(golden_ids), t.outbox.c.system == system, t.outbox.c.op == "create"
                )
            ).scalars()
        )
        open_ids = [gid for gid in golden_ids if gid not in done]
        if not open_ids:
            return 0
        bases = conn.execute(
            sa.select(t.golden.c.id, t.golden.c.base).where(t.golden.c.id.in_(open_ids), t.golden.c.status == "active")
        ).all()
        self.add_outbox(
            conn,
            batch.run_id,
            [
                {
                    "system": system,
                    "entity": batch.entity,
                    "golden_id": row.id,
                    "op": "create",
                    "payload": decode_record(json.loads(row.base)),
                    "cause": f"{batch.cause} (interrupted, resumed)",
                }
                for row in bases
            ],
        )
        return len(bases)

    def add_failed_create(
        self, conn: Connection, run_id: int | None, entity: str, system: str, golden_id: str, error: str, cause: str
    ) -> None:
        """A create the target refused for good, kept as a failed outbox entry (``status`` lists those)."""
        base = conn.execute(sa.select(t.golden.c.base).where(t.golden.c.id == golden_id)).scalar_one()
        conn.execute(
            t.outbox.insert().values(
                run_id=run_id,
                system=system,
                entity=entity,
                golden_id=golden_id,
                op="create",
                payload=base,
                cause=cause,
                status="failed",
                attempts=1,
                last_error=error,
                created_at=utcnow(),
            )
        )

    def pending_outbox(
        self,
        system: str | None = None,
        entity: str | None = None,
        limit: int = 1000,
        op: str | None = None,
        due_only: bool = True,
        after_id: int = 0,
    ) -> list[dict[str, Any]]:
        query = (
            sa.select(t.outbox)
            .where(t.outbox.c.status == "pending", t.outbox.c.id > after_id)
            .order_by(t.outbox.c.id)
            .limit(limit)
        )
        if system:
            query = query.where(t.outbox.c.system == system)
        if entity:
            query = query.where(t.outbox.c.entity == entity)
        if op:
            query = query.where(t.outbox.c.op == op)
        if due_only:
            now = utcnow()
            query = query.where(sa.or_(t.outbox.c.next_attempt_at.is_(None), t.outbox.c.next_attempt_at <= now))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        result = []
        for row in rows:
            entry = dict(row._mapping)
            entry["payload"] = decode_record(json.loads(entry["payload"]))
            result.append(entry)
        return result

    def mark_outbox(
        self,
        conn: Connection,
        ids: Sequence[int],
        status: str,
        error: str | None = None,
        next_attempt_at: dt.datetime | None = None,
        native_id: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": status, "last_error": error, "next_attempt_at": next_attempt_at}
        if status in ("done", "superseded"):
            values["done_at"] = utcnow()
        if native_id is not None:
            values["native_id"] = native_id
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            conn.execute(
                t.outbox.update()
                .where(t.outbox.c.id.in_(chunk))
                .values(attempts=t.outbox.c.attempts + (0 if status == "done" else 1), **values)
            )

    def failed_outbox(self, limit: int = 20) -> list[dict[str, Any]]:
        """Writes that failed for good (isolated records), newest first."""
        query = (
            sa.select(t.outbox.c.id, t.outbox.c.system, t.outbox.c.entity, t.outbox.c.golden_id,
                      t.outbox.c.native_id, t.outbox.c.op, t.outbox.c.last_error, t.outbox.c.created_at)
            .where(t.outbox.c.status == "failed")
            .order_by(t.outbox.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def outbox_counts(self, system: str, entity: str) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.outbox.c.status, sa.func.count())
                .where(t.outbox.c.system == system, t.outbox.c.entity == entity)
                .group_by(t.outbox.c.status)
            ).all()
        return {row[0]: int(row[1]) for row in rows}

    # ------------------------------------------------------------------ audit + problems
    def audit(self, conn: Connection, run_id: int | None, entries: Sequence[Mapping[str, Any]]) -> None:
        self.audit_rows(
            conn,
            run_id,
            [
                (
                    e.get("system"),
                    e["entity"],
                    e.get("golden_id"),
                    e.get("native_id"),
                    e["op"],
                    json.dumps(e["old"], default=str, ensure_ascii=False) if e.get("old") is not None else None,
                    json.dumps(e["new"], default=str, ensure_ascii=False) if e.get("new") is not None else None,
                    e["cause"],
                )
                for e in entries
            ],
        )

    def audit_rows(
        self,
        conn: Connection,
        run_id: int | None,
        rows: Sequence[tuple[str | None, str, str | None, str | None, str, str | None, str | None, str]],
    ) -> None:
        """rows: (system, entity, golden_id, native_id, op, old as JSON, new as JSON, cause)."""
        now = driver_value(conn, t.audit.c.ts, utcnow())
        insert_rows(
            conn,
            t.audit,
            ("ts", "run_id", "system", "entity", "golden_id", "native_id", "op", "old", "new", "cause"),
            [(now, run_id, *row) for row in rows],
        )

    def audit_log(
        self,
        entity: str | None = None,
        golden_id: str | None = None,
        run_id: int | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        query = sa.select(t.audit).order_by(t.audit.c.id.desc()).limit(limit)
        if entity:
            query = query.where(t.audit.c.entity == entity)
        if golden_id:
            query = query.where(t.audit.c.golden_id == golden_id)
        if run_id is not None:
            query = query.where(t.audit.c.run_id == run_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        result = []
        for row in rows:
            entry = dict(row._mapping)
            entry["old"] = json.loads(entry["old"]) if entry["old"] else None
            entry["new"] = json.loads(entry["new"]) if entry["new"] else None
            entry["ts"] = entry["ts"].isoformat(timespec="seconds")
            result.append(entry)
        return result

    def add_problems(self, conn: Connection, run_id: int | None, problems: Sequence[Mapping[str, Any]]) -> None:
        if not problems:
            return
        now = utcnow()
        conn.execute(
            t.problems.insert(),
            [
                {
                    "run_id": run_id,
                    "kind": p["kind"],
                    "system": p.get("system"),
                    "entity": p.get("entity"),
                    "native_id": p.get("native_id"),
                    "golden_id": p.get("golden_id"),
                    "field": p.get("field"),
                    "message": p["message"],
                    "created_at": now,
                }
                for p in problems
            ],
        )

    def problems(self, run_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        query = sa.select(t.problems).order_by(t.problems.c.id.desc()).limit(limit)
        if run_id is not None:
            query = query.where(t.problems.c.run_id == run_id)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    # ------------------------------------------------------------------ conflicts
    def count_open_conflicts(self, entity: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(t.conflicts)
                    .where(t.conflicts.c.entity == entity, t.conflicts.c.status == "open")
                ).scalar_one()
            )

    # ------------------------------------------------------------------ lock
    @contextmanager
    def exclusive(self, name: str, stale_after: dt.timedelta = dt.timedelta(minutes=10)) -> Iterator[bool]:
        """Hold a named lock for the duration; yields False if another live process holds it."""
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        acquired = self._try_lock(name, holder, stale_after)
        try:
            yield acquired
        finally:
            if acquired:
                with self.transaction() as conn:
                    conn.execute(t.locks.delete().where(t.locks.c.name == name, t.locks.c.holder == holder))

    def _try_lock(self, name: str, holder: str, stale_after: dt.timedelta) -> bool:
        now = utcnow()
        with self.transaction() as conn:
            row = conn.execute(sa.select(t.locks).where(t.locks.c.name == name)).first()
            if row is not None:
                alive = _holder_alive(row.holder)
                if alive and now - row.heartbeat_at < stale_after:
                    return False
                conn.execute(t.locks.delete().where(t.locks.c.name == name, t.locks.c.holder == row.holder))
            try:
                conn.execute(t.locks.insert().values(name=name, holder=holder, acquired_at=now, heartbeat_at=now))
            except sa.exc.IntegrityError:
                return False
        return True

    def heartbeat(self, name: str) -> None:
        with self.transaction() as conn:
            conn.execute(t.locks.update().where(t.locks.c.name == name).values(heartbeat_at=utcnow()))


def _holder_alive(holder: str) -> bool:
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True  # another machine: rely on the heartbeat age
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DbSnapshotStore(SnapshotStore):
    def __init__(self, store: StateStore, system: str, entity: str) -> None:
        self.store, self.system, self.entity = store, system, entity

    def hashes(self, ids: Sequence[str]) -> dict[str, str]:
        result: dict[str, str] = {}
        with self.store.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                for row in conn.execute(
                    sa.select(t.snapshots.c.native_id, t.snapshots.c.hash).where(
                        t.snapshots.c.system == self.system,
                        t.snapshots.c.entity == self.entity,
                        t.snapshots.c.native_id.in_(chunk),
                    )
                ):
                    result[row.native_id] = row.hash
        return result

    def known_ids(self) -> Iterator[str]:
        last = ""
        while True:
            with self.store.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(t.snapshots.c.native_id)
                    .where(
                        t.snapshots.c.system == self.system,
                        t.snapshots.c.entity == self.entity,
                        t.snapshots.c.native_id > last,
                    )
                    .order_by(t.snapshots.c.native_id)
                    .limit(5000)
                ).all()
            if not rows:
                return
            for row in rows:
                yield row.native_id
            last = rows[-1].native_id


def _link(row: Any) -> Link:
    return Link(row["golden_id"], row["system"], row["native_id"], row["version"], row["record_hash"])


def _run_row(row: Any) -> dict[str, Any]:
    entry = dict(row)
    entry["args"] = json.loads(entry["args"]) if entry.get("args") else {}
    entry["summary"] = json.loads(entry["summary"]) if entry.get("summary") else {}
    for key in ("started_at", "finished_at"):
        if entry.get(key) is not None:
            entry[key] = entry[key].isoformat(timespec="seconds")
    return entry


def open_store(url: str, migrate: bool = True) -> StateStore:
    store = StateStore(url)
    if migrate:
        store.migrate()
    return store
