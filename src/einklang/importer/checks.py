"""``inspect`` and ``dedupe`` for files and for the records inside a configured system."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from einklang.config import LoadedConfig
from einklang.connectors.base import Connector
from einklang.importer.incoming import IncomingRow, read_files
from einklang.importer.matching import match_record, spec_for_entity
from einklang.match import CONTACT_SPEC, Backend, MatchModel, find_duplicates

DEDUPE_HEADER = ("a_source", "a_row", "b_source", "b_row", "score", "verdict", "reasons")


@dataclass(frozen=True)
class DuplicateRow:
    a_source: str
    a_row: str
    b_source: str
    b_row: str
    score: float
    verdict: str
    reasons: tuple[str, ...]

    def cells(self) -> list[str]:
        return [
            self.a_source,
            self.a_row,
            self.b_source,
            self.b_row,
            f"{self.score:.4f}",
            self.verdict,
            "; ".join(self.reasons),
        ]

    def as_dict(self) -> dict[str, Any]:
        return dict(
            zip(
                DEDUPE_HEADER,
                [
                    self.a_source,
                    self.a_row,
                    self.b_source,
                    self.b_row,
                    round(self.score, 4),
                    self.verdict,
                    list(self.reasons),
                ],
                strict=True,
            )
        )


def write_matches(path: Path, rows: Sequence[DuplicateRow]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(DEDUPE_HEADER)
        writer.writerows(row.cells() for row in rows)


def dedupe_files(
    paths: Sequence[Path],
    against: Sequence[Path] = (),
    default_region: str = "DE",
    model: MatchModel | None = None,
    backend: Backend | None = None,
) -> tuple[list[Any], list[DuplicateRow]]:
    """Pairs within and across ``paths``; with ``against``, only pairs between them and ``against``."""
    reports, rows = read_files(paths, default_region)
    other: list[IncomingRow] = []
    if against:
        against_reports, other = read_files(against, default_region)
        reports += against_reports
    records_a = [match_record(str(i), row.values) for i, row in enumerate(rows)]
    records_b = [match_record(str(i), row.values) for i, row in enumerate(other)] if against else None
    pairs = find_duplicates(
        records_a, records_b, spec=CONTACT_SPEC, default_region=default_region, model=model, backend=backend
    )
    result = []
    for pair in pairs:
        a = rows[int(str(pair.a_id))]
        b = (other if against else rows)[int(str(pair.b_id))]
        if not against and (b.source, b.row) < (a.source, a.row):
            a, b = b, a  # earlier record first, so the file reads top-down
        result.append(DuplicateRow(a.source, str(a.row), b.source, str(b.row), pair.score, pair.verdict, pair.reasons))
    return reports, result


def dedupe_system(
    config: LoadedConfig,
    connector: Connector,
    entity: str,
    model: MatchModel | None = None,
    backend: Backend | None = None,
) -> list[DuplicateRow]:
    mapping = config.mapping(entity, connector.system)
    spec = spec_for_entity(entity, mapping.canonical_fields)
    records = []
    for page in connector.read_all(entity):
        for native in page:
            canonical, _ = mapping.to_canonical(native.fields)
            records.append(match_record(native.native_id, canonical))
    pairs = find_duplicates(
        records, spec=spec, default_region=config.model.default_region, model=model, backend=backend
    )
    system = connector.system
    return [DuplicateRow(system, str(p.a_id), system, str(p.b_id), p.score, p.verdict, p.reasons) for p in pairs]


@dataclass
class SystemInspection:
    system: str
    entity: str
    records: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return len(self.problems)

    def as_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "entity": self.entity,
            "records": self.records,
            "errors": self.errors,
            "problems": self.problems,
        }


def inspect_system(config: LoadedConfig, connector: Connector, entity: str) -> SystemInspection:
    """Every value of ``entity`` in the system that cannot be normalised, and every empty required field."""
    mapping = config.mapping(entity, connector.system)
    required = [
        name for name, spec in mapping.entity.fields.items() if spec.required and name in mapping.canonical_fields
    ]
    result = SystemInspection(connector.system, entity)
    for page in connector.read_all(entity):
        for native in page:
            result.records += 1
            canonical, problems = mapping.to_canonical(native.fields)
            for problem in problems:
                result.problems.append(
                    {
                        "system": connector.system,
                        "record": native.native_id,
                        "field": problem.field,
                        "value": problem.value,
                        "message": problem.reason,
                        "text": f"{connector.system}:{native.native_id}:{problem.field}: "
                        f"{problem.reason} (value {problem.value!r})",
                    }
                )
            for name in required:
                if canonical.get(name) is None:
                    result.problems.append(
                        {
                            "system": connector.system,
                            "record": native.native_id,
                            "field": name,
                            "value": None,
                            "message": "required field is empty",
                            "text": f"{connector.system}:{native.native_id}:{name}: required field is empty",
                        }
                    )
    return result
