"""``einklang undo RUN_ID``: revert a whole import or review run from its audit entries.

Newest first: records the run created are deleted, fields it merged get their old values back,
links and row fingerprints it added are removed, "not a duplicate" pairs it stored are
forgotten. The undo is a run of its own and every step is audited under its id.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from einklang.config import LoadedConfig
from einklang.connectors.base import Connector, ConnectorError, RecordNotFound
from einklang.importer.writes import TargetEntity
from einklang.model import CanonicalRecord, coerce, display
from einklang.normalize import InvalidValue
from einklang.store import imports, journal, links, reviews
from einklang.store.rows import AuditEntry
from einklang.store.state import StateStore
from einklang.systems import open_connector

RUN_KIND = "undo"
UNDOABLE = ("import", "review")
ConnectorFactory = Callable[[LoadedConfig, str], Connector]


class UndoError(Exception):
    pass


@dataclass
class UndoReport:
    undone_run: int
    dry_run: bool
    run_id: int | None = None
    deleted: int = 0
    restored: int = 0
    unlinked: int = 0
    decisions_reverted: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    plan: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "undone_run": self.undone_run,
            "dry_run": self.dry_run,
            "run_id": self.run_id,
            "deleted": self.deleted,
            "restored": self.restored,
            "unlinked": self.unlinked,
            "decisions_reverted": self.decisions_reverted,
            "failed": self.failed,
        }

    def as_dict(self) -> dict[str, Any]:
        return {**self.summary(), "failures": self.failures, "plan": self.plan}


class Undo:
    def __init__(
        self,
        config: LoadedConfig,
        store: StateStore,
        run_id: int,
        *,
        dry_run: bool = False,
        connector_factory: ConnectorFactory = open_connector,
        requested_by: str | None = None,
    ) -> None:
        self.config = config
        self.requested_by = requested_by  # the person who asked (web app); audited
        self.store = store
        self.undone = run_id
        self.dry_run = dry_run
        self.connector_factory = connector_factory
        self.report = UndoReport(run_id, dry_run)
        self._connectors: dict[str, Connector] = {}

    def run(self) -> UndoReport:
        run = self._run_row()
        with self.store.read() as conn:
            entries = journal.audit_log(conn, run_id=self.undone, limit=10_000_000)  # newest first
        if not self.dry_run:
            args: dict[str, Any] = {"run": self.undone}
            if self.requested_by:
                args["by"] = self.requested_by
            self.report.run_id = self.store.start_run(RUN_KIND, run["entity"], args)
        status = "failed"
        try:
            for entry in entries:
                self._revert(entry)
            status = "ok" if not self.report.failed else "partial"
        finally:
            for connector in self._connectors.values():
                connector.close()
            if self.report.run_id is not None:
                self.store.finish_run(self.report.run_id, status, self.report.summary())
                if status == "ok":
                    self.store.set_run_status(self.undone, "undone")
                    with self.store.transaction() as conn:  # a review run's rows can be decided again
                        reviews.forget_applied(conn, self.undone)
        return self.report

    def _run_row(self) -> dict[str, Any]:
        run = self.store.get_run(self.undone)
        if run is None:
            raise UndoError(f"run {self.undone} does not exist (see `einklang status`)")
        if run["kind"] not in UNDOABLE:
            raise UndoError(f"run {self.undone} is a {run['kind']} run; only import and review runs can be undone")
        if run["status"] == "undone":
            raise UndoError(f"run {self.undone} was already undone")
        return run

    def _target(self, system: str, entity: str) -> TargetEntity:
        if system not in self._connectors:
            self._connectors[system] = self.connector_factory(self.config, system)
        return TargetEntity(self.config, self._connectors[system], entity)

    def _audit(self, entry: AuditEntry, op: str, old: Any, new: Any) -> None:
        with self.store.transaction() as conn:
            journal.audit(
                conn,
                self.report.run_id,
                [
                    {
                        "system": entry.system,
                        "entity": entry.entity,
                        "golden_id": entry.golden_id,
                        "native_id": entry.native_id,
                        "op": op,
                        "old": old,
                        "new": new,
                        "cause": f"undo of run {self.undone} (audit entry {entry.id}: {entry.op})"
                        + (f"; asked for by {self.requested_by}" if self.requested_by else ""),
                    }
                ],
            )

    def _revert(self, entry: AuditEntry) -> None:
        op = entry.op
        new = entry.new or {}
        self.report.plan.append({"audit_id": entry.id, "op": op, "system": entry.system, "native_id": entry.native_id})
        if self.dry_run:
            self._count_planned(op)
            return
        try:
            if op == "create":
                self._undo_create(entry, new)
            elif op == "link":
                self._undo_link(entry, new)
            elif op == "update":
                self._undo_update(entry, new)
            elif op == "decision":
                self._undo_decision(entry, new)
        except ConnectorError as exc:
            self.report.failed += 1
            self.report.failures.append(f"audit entry {entry.id} ({op} {entry.native_id}): {exc}")

    def _count_planned(self, op: str) -> None:
        """A dry run counts what each entry would revert (the web app's confirmation shows it)."""
        counter = {"create": "deleted", "update": "restored", "link": "unlinked", "decision": "decisions_reverted"}
        if op in counter:
            setattr(self.report, counter[op], getattr(self.report, counter[op]) + 1)

    def _forget(self, entity: str, fingerprints: list[str]) -> None:
        if fingerprints:
            with self.store.transaction() as conn:
                imports.forget_fingerprints(conn, entity, fingerprints)

    def _unlink(self, entry: AuditEntry) -> None:
        with self.store.transaction() as conn:
            links.delete_link(conn, str(entry.system), entry.entity, str(entry.native_id))
            if entry.golden_id:
                links.set_golden_status(conn, entry.golden_id, "deleted")

    def _undo_create(self, entry: AuditEntry, new: dict[str, Any]) -> None:
        target = self._target(str(entry.system), entry.entity)
        with contextlib.suppress(RecordNotFound):  # already gone: the link still goes
            target.connector.delete(entry.entity, str(entry.native_id), None)
        self._unlink(entry)
        self._forget(entry.entity, list(new.get("fingerprints") or []))
        self._audit(entry, "delete", new.get("values"), None)
        self.report.deleted += 1

    def _undo_link(self, entry: AuditEntry, new: dict[str, Any]) -> None:
        self._forget(entry.entity, list(new.get("fingerprints") or []))
        if new.get("new_golden"):
            self._unlink(entry)
        self._audit(entry, "unlink", new, None)
        self.report.unlinked += 1

    def _undo_update(self, entry: AuditEntry, new: dict[str, Any]) -> None:
        system, native_id = str(entry.system), str(entry.native_id)
        target = self._target(system, entry.entity)
        old_values: dict[str, str] = (entry.old or {}).get("values", {})
        spec = self.config.entity_spec(entry.entity)
        restore: CanonicalRecord = {}
        for name, text in old_values.items():
            try:
                restore[name] = coerce(spec.field(name), text or None, self.config.normalize_context)
            except (InvalidValue, KeyError):
                restore[name] = text or None
        # a column holding several fields (a full name) is rebuilt from the record's other parts as it
        # holds them now, not from the restored field alone (which would wipe the rest)
        current = target.connector.get(entry.entity, [native_id]).get(native_id)
        before = target.canonical(current) if current is not None else {}
        patch = target.mapping.to_native({**before, **restore}, only=list(restore))
        updated = target.connector.update(entry.entity, native_id, patch, None)
        after = target.canonical(updated)
        with self.store.transaction() as conn:
            if entry.golden_id:
                links.save_golden(conn, entry.golden_id, after)
            link = links.links_by_native(conn, system, entry.entity, [native_id]).get(native_id)
            if link is not None:
                links.save_link(conn, entry.entity, system, native_id, updated.version, after, link.tolerated)
        self._forget(entry.entity, list(new.get("fingerprints") or []))
        if new.get("new_golden"):
            self._unlink(entry)
        self._audit(entry, "update", new.get("values"), {name: display(after.get(name)) for name in restore})
        self.report.restored += 1

    def _undo_decision(self, entry: AuditEntry, new: dict[str, Any]) -> None:
        if new.get("decision") == "not-duplicate":
            with self.store.transaction() as conn:
                for key_a, key_b in new.get("pairs") or []:
                    imports.remove_exclusion(conn, entry.entity, key_a, key_b)
        elif new.get("decision") == "skip":
            self._forget(entry.entity, list(new.get("fingerprints") or []))
        self._audit(entry, "decision", new, {"reverted": True})
        self.report.decisions_reverted += 1


def undo_run(
    config: LoadedConfig,
    store: StateStore,
    run_id: int,
    *,
    dry_run: bool = False,
    connector_factory: ConnectorFactory = open_connector,
    requested_by: str | None = None,
) -> UndoReport:
    return Undo(
        config, store, run_id, dry_run=dry_run, connector_factory=connector_factory, requested_by=requested_by
    ).run()
