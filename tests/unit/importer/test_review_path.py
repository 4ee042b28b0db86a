"""The review path is checked before the import writes anything (issue "Hardening" 15)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.unit.importer.demo_world import world  # noqa: F401 - fixture
from tests.unit.importer.test_pipeline import crm, do_import
from tests.unit.importer.test_review import decide

from einklang.config import LoadedConfig
from einklang.importer.review import read_review
from einklang.importer.run_report import ImportRefused
from einklang.store import schema as t
from einklang.store.state import StateStore

World = tuple[LoadedConfig, StateStore, list[Path]]


def import_runs(store: StateStore) -> int:
    with store.engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(t.runs).where(t.runs.c.kind == "import")).scalar_one()
        )


def test_unwritable_review_path_fails_before_any_write(world: World, tmp_path: Path) -> None:  # noqa: F811
    config, store, exports = world
    (tmp_path / "a-file").write_text("not a folder")
    before = crm(config, "SELECT COUNT(*) FROM contacts")
    with pytest.raises(ImportRefused, match="cannot be written"):
        do_import(config, store, exports, review_path=tmp_path / "a-file" / "review.xlsx")
    assert crm(config, "SELECT COUNT(*) FROM contacts") == before
    assert import_runs(store) == 0


def test_reimport_onto_a_review_file_with_decisions_is_refused_without_overwrite(
    world: World,  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    config, store, exports = world
    path = tmp_path / "review.xlsx"
    do_import(config, store, exports, review_path=path)
    decide(path, path, {("Lena", "Fischer"): ("merge", {})})
    with pytest.raises(ImportRefused, match="holds 1 decision"):
        do_import(config, store, exports, review_path=path)
    assert [row.decision for row in read_review(path) if row.decision] == ["merge"]  # kept
    do_import(config, store, exports, review_path=path, overwrite=True)


def test_a_file_that_is_no_review_file_is_not_replaced(world: World, tmp_path: Path) -> None:  # noqa: F811
    config, store, exports = world
    path = tmp_path / "budget.xlsx"
    path.write_bytes(b"PK not really")
    with pytest.raises(ImportRefused, match="not an einklang review file"):
        do_import(config, store, exports, review_path=path)
    assert path.read_bytes() == b"PK not really"
