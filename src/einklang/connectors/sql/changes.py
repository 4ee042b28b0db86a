"""Reading changes from a table: by a change cursor with overlap, or by a hash snapshot."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from einklang.connectors._snapshots import stored_versions, vanished
from einklang.connectors.base import (
    ChangeDetection,
    ChangePage,
    ConfigurationError,
    JsonValue,
    SnapshotStore,
    chunked,
)
from einklang.connectors.sql.database import SqlDatabase
from einklang.connectors.sql.table import (
    CHANGE_KEY_LABEL,
    DEFAULT_PAGE_SIZE,
    ID_CHUNK,
    BoundEntity,
    from_json_scalar,
    json_scalar,
)


class SqlChangeReading(SqlDatabase):
    def _read_cursor_changes(
        self, bound: BoundEntity, changed: sa.Column[Any], cursor: JsonValue
    ) -> Iterator[ChangePage]:
        size = self._page_size(bound, DEFAULT_PAGE_SIZE)
        table = bound.table
        position = cursor if isinstance(cursor, Mapping) else {}
        if cursor is not None and not isinstance(cursor, Mapping):
            raise ConfigurationError(
                f"entity {bound.name!r}: not a cursor of this connector: {cursor!r}", system=self.system
            )

        # Rows whose change column is NULL were never stamped; they can only be ordered by id, so
        # the first read takes them before the stamped rows, and later reads only the new ones.
        emitted = False
        lower_bound: Any = None
        if "changed" in position:
            lower_bound = self._overlap_start(bound, position["changed"])
        else:
            nulls_after = position.get("nulls_after")
            start = bound.id_value(str(nulls_after)) if nulls_after is not None else None
            statement = sa.select(table).where(changed.is_(None))
            for rows in self._id_pages(bound, statement, size, start_after=start):
                emitted = True
                last_id = json_scalar(rows[-1]._mapping[bound.id_column.name])
                yield self._change_page(bound, rows, {"nulls_after": last_id})

        key = bound.changed_key if bound.changed_key is not None else changed
        after: tuple[Any, Any] | None = None
        while True:
            statement = sa.select(table, key.label(CHANGE_KEY_LABEL)).where(changed.is_not(None))
            if after is not None:
                # ``key >= after`` is implied by the OR but lets the database seek the index to the
                # position instead of scanning it from the start (SQLite does not use an index for
                # the OR alone: every page after the first read the whole table's index)
                statement = statement.where(
                    key >= after[0], sa.or_(key > after[0], sa.and_(key == after[0], bound.id_column > after[1]))
                )
            elif lower_bound is not None:
                statement = statement.where(key >= lower_bound)
            statement = statement.order_by(key, bound.id_column).limit(size)
            with self._connect() as conn:
                stamped_rows = self._run(conn, statement).all()
            if not stamped_rows:
                break
            last = stamped_rows[-1]._mapping
            after = (last[CHANGE_KEY_LABEL], last[bound.id_column.name])
            emitted = True
            yield self._change_page(
                bound, stamped_rows, {"changed": json_scalar(after[0]), "id": json_scalar(after[1])}
            )
            if len(stamped_rows) < size:
                break
        if not emitted:
            # Nothing at all: hand the cursor back unchanged so the caller still has a position.
            yield ChangePage(cursor=cursor)

    def _overlap_start(self, bound: BoundEntity, stored: Any) -> Any:
        """Where a read from a stored cursor begins: the cursor's value minus the overlap."""
        assert bound.changed_column is not None
        text_key = bound.changed_key is not None and bound.changed_key is not bound.changed_column
        value = stored if text_key else from_json_scalar(stored, bound.changed_column)
        options = bound.options
        if options.changed_kind is ChangeDetection.ROW_VERSION:
            return value - options.overlap_versions if isinstance(value, int | float | Decimal) else value
        overlap = timedelta(seconds=options.overlap_seconds)
        if isinstance(value, datetime):
            return value - overlap
        if isinstance(value, int | float):
            return value - options.overlap_seconds  # epoch seconds
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                return value
            # Keep the stored text's date/time separator so that text comparison stays in order.
            separator = value[10] if len(value) > 10 else " "
            return (parsed - overlap).isoformat(sep=separator)
        return value

    def _change_page(self, bound: BoundEntity, rows: Sequence[Row[Any]], cursor: JsonValue) -> ChangePage:
        page = ChangePage(cursor=cursor)
        live = []
        for row in rows:
            if bound.flagged_deleted(row):
                page.deleted_ids.append(bound.native_id(row))
            else:
                live.append(row)
        page.records = self._records(bound, live)
        return page

    def _read_snapshot_changes(
        self, bound: BoundEntity, cursor: JsonValue, snapshots: SnapshotStore | None
    ) -> Iterator[ChangePage]:
        size = self._page_size(bound, DEFAULT_PAGE_SIZE)
        resume_after = cursor.get("snapshot_after") if isinstance(cursor, Mapping) else None
        start = bound.id_value(str(resume_after)) if resume_after is not None else None
        for rows in self._id_pages(bound, sa.select(bound.table), size, start_after=start):
            ids = [bound.native_id(row) for row in rows]
            previous = stored_versions(snapshots, ids)
            page = ChangePage(cursor={"snapshot_after": json_scalar(rows[-1]._mapping[bound.id_column.name])})
            for native_id, row in zip(ids, rows, strict=True):
                if bound.flagged_deleted(row):
                    if native_id in previous:
                        page.deleted_ids.append(native_id)
                    continue
                record = self._record(bound, row)
                if previous.get(native_id) != record.version:
                    page.records.append(record)
            if page.records or page.deleted_ids:
                yield page

        # Hard deletions: ids of the previous scan that are no longer live rows. Checked against
        # the database chunk by chunk so that memory stays at one chunk however large the table.
        final_cursor = {"snapshot_after": None}
        gone: list[str] = []
        if snapshots is not None:
            for known in chunked(snapshots.known_ids(), ID_CHUNK):
                keys = [key for key in (bound.id_value(i) for i in known) if key is not None]
                with self._connect() as conn:
                    live = {
                        str(value)
                        for value in self._run(
                            conn, sa.select(bound.id_column).where(bound.id_column.in_(keys), bound.live())
                        ).scalars()
                    }
                gone.extend(vanished(known, live))
                if len(gone) >= size:
                    # The scan is complete, so a restart after this page only repeats the
                    # (idempotent) deletion check.
                    yield ChangePage(deleted_ids=gone, cursor=final_cursor)
                    gone = []
        yield ChangePage(deleted_ids=gone, cursor=final_cursor)
