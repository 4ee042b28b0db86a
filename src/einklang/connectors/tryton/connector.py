"""Tryton (8.x) over JSON-RPC with plain httpx.

Facts this module relies on (measured against trytond 8.2, see docs/connectors/tryton.md):

- ``POST <url>/<database>/rpc/``; errors come back as HTTP 200 with ``{"error": [type, details]}``.
- Every model call takes the user context as its last parameter.
- Every record has ``create_date``/``write_date`` (naive UTC, server clock) and a searchable
  ``last_modified_at`` (write date, else create date). Writing a child model (an address, a
  contact mechanism) does not touch the parent's dates, so the children are polled as well.
- Hard deletes are logged in ``ir.model.log`` (which model, not which id); archiving sets
  ``active = False``.
- Passing ``_timestamp`` {"model,id": timestamp} in the context makes the server refuse a write
  with ``ConcurrencyException`` when the record moved on: a native optimistic lock.

A *kind* (``party``, ``product_group``, ``product``, ``employee``) says how one Tryton model
and its child models become flat native records; the connector around it does sessions, paging,
change detection, deletions and conditional writes for every kind alike.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
from pydantic import BaseModel

from einklang.connectors._snapshots import changed_records, remembered, vanished
from einklang.connectors.base import (
    Capabilities,
    ChangeDetection,
    ChangePage,
    ConfigurationError,
    Connector,
    ConnectorError,
    JsonValue,
    NativeRecord,
    RecordNotFound,
    RecordRejected,
    SnapshotStore,
    StaleVersion,
)
from einklang.connectors.tryton.kinds import LoadedRecord, ModelKind
from einklang.connectors.tryton.options import TrytonEntityOptions, TrytonSettings
from einklang.connectors.tryton.registry import KINDS
from einklang.connectors.tryton.wire import TrytonError, TrytonSession, encode_datetime

# --- cursors ------------------------------------------------------------------------------------

_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


def _compress_ids(ids: Sequence[int]) -> list[list[int]]:
    """Sorted ids as [first, last] runs: Tryton ids are sequential, so this stays tiny."""
    runs: list[list[int]] = []
    for record_id in sorted(set(ids)):
        if runs and record_id == runs[-1][1] + 1:
            runs[-1][1] = record_id
        else:
            runs.append([record_id, record_id])
    return runs


def _expand_ids(runs: Sequence[Sequence[int]]) -> set[int]:
    return {record_id for first, last in runs for record_id in range(first, last + 1)}


# --- connector --------------------------------------------------------------------------------


class TrytonConnector(Connector):
    """Settings: url, database, user, password, [language, timeout, overlap_seconds, retry_*].

    Entity options: ``kind`` (default: the entity name; known: party, product_group, product,
    employee),
    ``delete_mode`` ``archive`` (default) or ``delete``.
    """

    settings_model = TrytonSettings
    entity_settings_model = TrytonEntityOptions
    settings: TrytonSettings
    entity_settings: Mapping[str, TrytonEntityOptions]

    def __init__(
        self,
        system: str,
        settings: Mapping[str, Any] | BaseModel,
        entities: Mapping[str, Mapping[str, Any] | BaseModel],
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(system, settings, entities)
        self.session = TrytonSession(system, self.settings, transport=transport)
        self.overlap = timedelta(seconds=self.settings.overlap_seconds)
        self.kinds: dict[str, ModelKind] = {}
        for entity, options in self.entity_settings.items():
            kind_name = options.kind or entity
            if kind_name not in KINDS:
                raise ConfigurationError(
                    f"entity {entity!r}: unknown Tryton kind {kind_name!r} (known: {', '.join(sorted(KINDS))})",
                    system=system,
                )
            self.kinds[entity] = KINDS[kind_name](self.session, options)

    def _kind(self, entity: str) -> ModelKind:
        try:
            return self.kinds[entity]
        except KeyError:
            raise ConfigurationError(f"entity {entity!r} is not configured", system=self.system) from None

    def capabilities(self, entity: str) -> Capabilities:
        self._kind(entity)
        return Capabilities(
            change_detection=ChangeDetection.TIMESTAMP,
            reports_deletions=True,
            conditional_writes=True,
            batch_size=200,
        )

    def native_fields(self, entity: str) -> set[str]:
        """The flat fields the entity's kind reads and writes (its model and child models folded in)."""
        return set(self._kind(entity).flat_fields)

    def check(self) -> str:
        version = self.session.server_version()
        self.session.login()
        for entity, kind in self.kinds.items():
            try:
                self.session.model(kind.model, "search", [], 0, 1, None)
            except TrytonError as missing:
                raise ConfigurationError(
                    f"entity {entity!r}: model {kind.model} not usable: {missing}", system=self.system
                ) from missing
        try:
            self.session.model("ir.model.log", "search", [], 0, 1, None)
        except (TrytonError, RecordRejected) as hidden:
            # Hard deletes are only found through this log.
            raise ConfigurationError(
                f"user {self.session.user!r} cannot read ir.model.log: {hidden}", system=self.system
            ) from hidden
        return f"Tryton {version}, database {self.session.database}, entities {', '.join(self.kinds)}"

    def close(self) -> None:
        self.session.close()

    # --- reading --------------------------------------------------------------------------

    def _search_ids(
        self,
        model: str,
        domain: list[Any],
        *,
        include_archived: bool,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[int]:
        context = {"active_test": False} if include_archived else None
        ids: list[int] = self.session.model(model, "search", domain, offset, limit, [["id", "ASC"]], context=context)
        return ids

    @staticmethod
    def _scoped(kind: ModelKind, domain: list[Any]) -> list[Any]:
        """``domain`` within the entity's own ``domain`` option (the records that are the entity)."""
        return [*domain, *kind.options.domain]

    def _load_existing(self, kind: ModelKind, ids: Sequence[int]) -> dict[int, LoadedRecord]:
        """``kind.load`` that tolerates records deleted between the search and the read."""
        try:
            return kind.load(ids)
        except RecordRejected:
            # Tryton refuses to read a missing id; ask which still exist and read those.
            existing = self._search_ids(kind.model, [["id", "in", list(ids)]], include_archived=True)
            return kind.load(existing)

    def read_all(self, entity: str, page_size: int = 1000) -> Iterator[list[NativeRecord]]:
        kind = self._kind(entity)
        last_id = 0
        while True:
            # Keyset paging by id: stable even while records are added behind our back.
            ids = self._search_ids(
                kind.model, self._scoped(kind, [["id", ">", last_id]]), include_archived=False, limit=page_size
            )
            if not ids:
                return
            loaded = self._load_existing(kind, ids)
            yield [loaded[record_id].native() for record_id in ids if record_id in loaded]
            last_id = ids[-1]

    def get(self, entity: str, native_ids: Sequence[str]) -> dict[str, NativeRecord]:
        kind = self._kind(entity)
        wanted = [int(native_id) for native_id in native_ids if str(native_id).isdigit()]
        existing = (
            set(self._search_ids(kind.model, self._scoped(kind, [["id", "in", wanted]]), include_archived=False))
            if wanted
            else set()
        )
        loaded = kind.load(sorted(existing))
        return {str(record_id): record.native() for record_id, record in loaded.items() if record.active}

    def find(self, entity: str, criteria: Mapping[str, Any], limit: int = 10) -> list[NativeRecord]:
        kind = self._kind(entity)
        ids = self._search_ids(kind.model, self._scoped(kind, kind.prefilter_domain(criteria)), include_archived=False)
        found: list[NativeRecord] = []
        for batch in _batches(ids, 200):
            for _record_id, record in sorted(self._load_existing(kind, batch).items()):
                # The domain matched *any* address/mechanism; equality is on the flat record.
                if all(record.fields.get(name) == value for name, value in criteria.items()):
                    found.append(record.native())
                    if len(found) >= limit:
                        return found
        return found

    def read_changes(
        self, entity: str, cursor: JsonValue, snapshots: SnapshotStore | None = None
    ) -> Iterator[ChangePage]:
        kind = self._kind(entity)
        since = datetime.strptime(cursor["since"], _TIMESTAMP_FORMAT) if cursor and cursor.get("since") else None
        known_ids = _expand_ids(cursor.get("ids", [])) if cursor else set()
        # Versions of the records read last time: the overlap window reads them again, but
        # unchanged they are not news (a quiet Tryton costs a few searches, no records).
        seen_versions: dict[str, str] = dict(cursor.get("recent", {})) if cursor else {}
        loaded_versions: dict[str, str] = {}
        newest = since

        changed: set[int] = set()
        if since is None:
            changed.update(self._search_ids(kind.model, self._scoped(kind, []), include_archived=True))
        else:
            query_from = encode_datetime(since - self.overlap)
            domain = [["last_modified_at", ">=", query_from]]
            changed.update(self._search_ids(kind.model, domain, include_archived=True))
            for child in kind.child_models:
                rows = self.session.model(
                    child.model,
                    "search_read",
                    domain,
                    0,
                    None,
                    None,
                    [child.parent_field],
                    context={"active_test": False},
                )
                changed.update(row[child.parent_field] for row in rows if row[child.parent_field])
            for related in kind.related_models:
                related_domain = [[f"{related.path}.last_modified_at", ">=", query_from]]
                changed.update(self._search_ids(kind.model, related_domain, include_archived=True))
            if kind.options.domain and changed:  # a variant's change names its parent, in scope or not
                scope = self._scoped(kind, [["id", "in", sorted(changed)]])
                changed = set(self._search_ids(kind.model, scope, include_archived=True))

        # Deletions: the log says *that* a model lost records (not which), so it is read by
        # log id (each entry handled once) and only then is the id set compared.
        seen_log_id = int(cursor.get("log_id", 0)) if cursor else 0
        deleted: set[int] = set()
        new_log_id, deleted_models = self._deletion_log(kind, seen_log_id)
        if since is not None and deleted_models:
            live_ids = set(self._search_ids(kind.model, self._scoped(kind, []), include_archived=False))
            deleted = set(vanished(known_ids, live_ids))
            if deleted_models - {kind.model}:
                # A child deleted on its own leaves no trace on its parent, and the log no
                # longer says which parent it had: re-read all live parents (rare, but exact).
                changed.update(live_ids)

        pages = list(_batches(sorted(changed), 200))
        live_after = set(known_ids)
        reported_deleted: set[int] = set()
        for page_number, batch in enumerate(pages):
            loaded = self._load_existing(kind, batch)
            live_records: list[NativeRecord] = []
            page_deleted: list[str] = []
            for record_id in batch:
                record = loaded.get(record_id)
                if record is None:  # deleted between search and read
                    if record_id in known_ids:
                        page_deleted.append(str(record_id))
                    live_after.discard(record_id)
                    continue
                if record.active:
                    loaded_versions[str(record_id)] = record.version
                    live_records.append(record.native())
                    live_after.add(record_id)
                else:
                    # Archived: gone for the other systems; reported once, while still known.
                    if record_id in known_ids:
                        page_deleted.append(str(record_id))
                    live_after.discard(record_id)
            # Versions of the records read last time: the overlap window reads them again, but
            # unchanged they are not news (a quiet Tryton costs a few searches, no records).
            records = changed_records(live_records, seen_versions)
            reported_deleted.update(int(record_id) for record_id in page_deleted)
            newest = _max_datetime(newest, self._newest_timestamp(kind, batch))
            is_last = page_number == len(pages) - 1
            if is_last:
                page_deleted.extend(str(record_id) for record_id in sorted(deleted - reported_deleted))
                live_after -= deleted
            # Until the last page is stored, resuming must start over from the old cursor.
            cursor_after = (
                self._cursor(newest, live_after, new_log_id, loaded_versions)
                if is_last
                else self._cursor(since, known_ids, seen_log_id, seen_versions)
            )
            yield ChangePage(records=records, deleted_ids=page_deleted, cursor=cursor_after)
        if not pages:
            live_after -= deleted
            yield ChangePage(
                deleted_ids=[str(record_id) for record_id in sorted(deleted)],
                cursor=self._cursor(newest, live_after, new_log_id, seen_versions),
            )

    def _cursor(
        self, since: datetime | None, live_ids: set[int], log_id: int, recent_versions: dict[str, str]
    ) -> JsonValue:
        return {
            "since": since.strftime(_TIMESTAMP_FORMAT) if since else None,
            "ids": _compress_ids(sorted(live_ids)),
            "log_id": log_id,
            # Bounded: after a large read the next window is simply re-sent (overlap is allowed).
            "recent": remembered(recent_versions),
        }

    def _newest_timestamp(self, kind: ModelKind, parent_ids: Sequence[int]) -> datetime | None:
        """The server-clock time of the newest change among these parents and their children."""
        newest: datetime | None = None
        context = {"active_test": False}
        rows = self.session.model(
            kind.model,
            "search_read",
            [["id", "in", list(parent_ids)]],
            0,
            None,
            [["last_modified_at", "DESC"]],
            ["last_modified_at"],
            context=context,
        )
        for row in rows[:1]:
            newest = _max_datetime(newest, row["last_modified_at"])
        for child in kind.child_models:
            rows = self.session.model(
                child.model,
                "search_read",
                [[child.parent_field, "in", list(parent_ids)]],
                0,
                1,
                [["last_modified_at", "DESC"]],
                ["last_modified_at"],
                context=context,
            )
            for row in rows:
                newest = _max_datetime(newest, row["last_modified_at"])
        return newest

    def _deletion_log(self, kind: ModelKind, after_log_id: int) -> tuple[int, set[str]]:
        """The newest ``ir.model.log`` id, and which of the kind's models lost records since ``after_log_id``."""
        # The upper bound is fixed first so that an entry logged while we ask is left for next time.
        newest = self.session.model("ir.model.log", "search", [], 0, 1, [["id", "DESC"]])
        newest_id = max([after_log_id, *newest])
        if newest_id == after_log_id:
            return newest_id, set()
        deleted_models = set()
        related = (*(child.model for child in kind.child_models), *(other.model for other in kind.related_models))
        for model in (kind.model, *related):
            # ``resource`` reads as null once its record is gone, but it can still be searched.
            domain = [
                ["id", ">", after_log_id],
                ["id", "<=", newest_id],
                ["event", "=", "delete"],
                ["resource", "like", f"{model},%"],
            ]
            if self.session.model("ir.model.log", "search", domain, 0, 1, None):
                deleted_models.add(model)
        return newest_id, deleted_models

    # --- writing --------------------------------------------------------------------------

    def _load_one(self, kind: ModelKind, native_id: str) -> LoadedRecord:
        # Reading a missing id is an error in Tryton, so existence is asked first.
        exists = native_id.isdigit() and self._search_ids(
            kind.model, [["id", "=", int(native_id)]], include_archived=True
        )
        record = kind.load([int(native_id)]).get(int(native_id)) if exists else None
        if record is None or not record.active:
            raise RecordNotFound(f"{kind.model} {native_id} does not exist", system=self.system, record_id=native_id)
        return record

    def create(self, entity: str, records: Sequence[Mapping[str, Any]]) -> list[NativeRecord]:
        kind = self._kind(entity)
        if not records:
            return []
        try:
            values = [kind.create_values(record) for record in records]
            ids = kind.create(values)
        except RecordRejected:
            # The batch is one Tryton transaction: nothing was created, so the engine may
            # send the records again one by one to find the one refused.
            raise
        loaded = kind.load(ids)
        return [loaded[record_id].native() for record_id in ids]

    def update(
        self, entity: str, native_id: str, patch: Mapping[str, Any], expected_version: str | None
    ) -> NativeRecord:
        kind = self._kind(entity)
        current = self._load_one(kind, native_id)
        if expected_version is not None and current.version != expected_version:
            raise StaleVersion(
                f"{kind.model} {native_id} changed since version {expected_version}",
                system=self.system,
                record_id=native_id,
            )
        values = kind.write_values(current, patch)
        if values:
            # _timestamp makes Tryton itself refuse the write if anything moved between our
            # read and this write (closes the gap the re-read above leaves open).
            try:
                kind.write(current, values, kind.changed_timestamps(current, patch))
            except ConnectorError as failed:
                failed.record_id = native_id
                raise
        return self._load_one(kind, native_id).native()

    def delete(self, entity: str, native_id: str, expected_version: str | None) -> None:
        kind = self._kind(entity)
        # ``delete_mode: archive`` (the default) keeps deleted records as archived ones.
        hard = self.entity_settings[entity].delete_mode == "delete" or not kind.has_active_flag
        self._change_activity(kind, native_id, expected_version, "delete" if hard else "archive")

    def archive(self, entity: str, native_id: str, expected_version: str | None) -> None:
        kind = self._kind(entity)
        if not kind.has_active_flag:
            super().archive(entity, native_id, expected_version)  # refuses: no flag to clear
            return
        self._change_activity(kind, native_id, expected_version, "archive")

    def _change_activity(
        self, kind: ModelKind, native_id: str, expected_version: str | None, how: Literal["archive", "delete"]
    ) -> None:
        """Delete the record, or archive it (``active = False``), conditional on its version."""
        current = self._load_one(kind, native_id)
        if expected_version is not None and current.version != expected_version:
            raise StaleVersion(
                f"{kind.model} {native_id} changed since version {expected_version}",
                system=self.system,
                record_id=native_id,
            )
        own_key = f"{kind.model},{current.record_id}"
        context = {"_timestamp": {own_key: current.timestamps[own_key]}}
        if how == "delete":
            self.session.model(kind.model, "delete", [current.record_id], context=context)
        else:
            self.session.model(kind.model, "write", [current.record_id], kind.archive_values(), context=context)


def _batches(items: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _max_datetime(left: datetime | None, right: datetime | None) -> datetime | None:
    if left is None:
        return right
    if right is None:
        return left
    return max(left, right)
