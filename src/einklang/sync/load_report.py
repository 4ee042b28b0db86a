"""What an initial load reports: counts, and each record it skipped, failed or warned about."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class LoadIssue:
    native_id: str | None
    reason: str
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"native_id": self.native_id, "field": self.field, "reason": self.reason}


@dataclass
class LoadReport:
    entity: str
    source: str
    target: str
    dry_run: bool
    run_id: int | None = None
    read: int = 0
    created: int = 0
    linked: int = 0
    conflicts: int = 0  # fields held for a person (relink)
    recovered: int = 0
    skipped: int = 0
    failed: int = 0
    waiting: int = 0  # planned, waiting in the outbox for a referenced record to reach the target
    target_was_empty: bool = True
    target_unlinked: int | None = None  # target records left unlinked (None: not counted)
    failures: list[LoadIssue] = field(default_factory=list)
    skips: list[LoadIssue] = field(default_factory=list)
    warnings: list[LoadIssue] = field(default_factory=list)
    plan: list[dict[str, Any]] = field(default_factory=list)
    aborted: str | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "source": self.source,
            "target": self.target,
            "dry_run": self.dry_run,
            "run_id": self.run_id,
            "read": self.read,
            "created": self.created,
            "linked": self.linked,
            "conflicts": self.conflicts,
            "recovered": self.recovered,
            "skipped": self.skipped,
            "failed": self.failed,
            "waiting": self.waiting,
            "target_was_empty": self.target_was_empty,
            "target_unlinked": self.target_unlinked,
            "aborted": self.aborted,
        }

    def as_dict(self, limit: int = 1000) -> dict[str, Any]:
        data = self.summary()
        data["failures"] = [issue.as_dict() for issue in self.failures[:limit]]
        data["skips"] = [issue.as_dict() for issue in self.skips[:limit]]
        data["warnings"] = [issue.as_dict() for issue in self.warnings[:limit]]
        if self.dry_run:
            data["plan"] = self.plan[:limit]
        return data
