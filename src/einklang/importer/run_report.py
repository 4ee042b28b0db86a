"""What an import run reports, and the checks it makes before it writes anything."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from einklang.importer.incoming import FileReport
from einklang.importer.plan_log import PlanLog
from einklang.importer.review import ReviewFileError, read_review


class ImportRefused(Exception):
    """The import cannot start (checked before anything is written): e.g. its review file cannot be written."""


def check_review_path(path: Path | None, *, overwrite: bool = False) -> None:
    """Refuse, before any write, a review file that cannot be written or would replace decisions.

    ``path`` None: the default file in the current folder. An existing file holding decisions
    (or not an einklang review file at all) is replaced only with ``overwrite``.
    """
    folder = path.parent if path is not None else Path.cwd()
    where = path if path is not None else folder
    if path is not None and path.is_dir():
        raise ImportRefused(f"{path}: the review file is a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".einklang-", suffix=".tmp"):
            pass
    except OSError as exc:
        raise ImportRefused(f"{where}: the review file cannot be written there ({exc.strerror or exc})") from None
    if path is None or not path.exists():
        return
    if not os.access(path, os.W_OK):
        raise ImportRefused(f"{path}: the review file exists and is read-only")
    if overwrite:
        return
    try:
        decided = sum(1 for row in read_review(path) if row.decision is not None)
    except ReviewFileError:
        raise ImportRefused(
            f"{path}: exists and is not an einklang review file; choose another --review file (or --overwrite)"
        ) from None
    if decided:
        raise ImportRefused(
            f"{path}: holds {decided} decision(s); apply them first (einklang review apply "
            f"{path}), choose another --review file, or --overwrite"
        ) from None


@dataclass
class ImportReport:
    entity: str
    system: str
    dry_run: bool
    run_id: int | None = None
    files: list[FileReport] = field(default_factory=list)
    rows_read: int = 0
    rows_usable: int = 0
    already_imported: int = 0
    persons: int = 0
    merged_rows: int = 0
    created: int = 0
    linked: int = 0
    waiting: int = 0
    """Persons not imported: possible duplicates that wait for a decision in the review file."""
    to_review: int = 0
    """Contact rows of the review file: the ``linked`` persons (a merge can fill their gaps) and the ``waiting``."""
    accounts_attached: int = 0
    accounts_created: int = 0
    accounts_to_review: int = 0
    recovered: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    plan: PlanLog = field(default_factory=PlanLog)
    """What a dry run would do, item by item (on disk: a million creates do not fit in memory)."""
    review_file: str | None = None

    @property
    def rows_left_out(self) -> int:
        """Rows read but not usable (no name at all); every other row is imported before or part of a person."""
        return self.rows_read - self.rows_usable

    def summary(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "system": self.system,
            "dry_run": self.dry_run,
            "run_id": self.run_id,
            "rows_read": self.rows_read,
            "rows_usable": self.rows_usable,
            "rows_left_out": self.rows_left_out,
            "already_imported": self.already_imported,
            "persons": self.persons,
            "merged_rows": self.merged_rows,
            "created": self.created,
            "linked": self.linked,
            "waiting": self.waiting,
            "to_review": self.to_review,
            "accounts_attached": self.accounts_attached,
            "accounts_created": self.accounts_created,
            "accounts_to_review": self.accounts_to_review,
            "recovered": self.recovered,
            "failed": self.failed,
            "review_file": self.review_file,
        }

    def as_dict(self) -> dict[str, Any]:
        data = self.summary()
        data["files"] = [report.as_dict() for report in self.files]
        data["failures"] = self.failures
        if self.dry_run:
            data["plan"] = list(self.plan)
        return data
