"""Updates sent as a batch: an outage in the middle keeps what was written, and a page merges at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from einklang.connectors.base import NativeRecord
from einklang.store import schema as t

from .harness import World


def outbox_by_status(w: World) -> dict[str, int]:
    with w.store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.outbox.c.status, sa.func.count())
            .where(t.outbox.c.system == "crm", t.outbox.c.op == "update")
            .group_by(t.outbox.c.status)
        ).all()
    return {row[0]: int(row[1]) for row in rows}


def test_an_outage_in_the_middle_of_a_batch_keeps_what_was_written_and_sends_the_rest_later(tmp_path: Path) -> None:
    w = World(tmp_path)
    erp_ids = [w.add("erp", number=f"K{i}", name=f"Firma {i}") for i in range(4)]
    w.settle()
    crm = w.engine.connectors["crm"]
    original = crm.update
    written: list[str] = []

    def update_then_go_down(entity: str, native_id: str, patch: Any, version: str | None) -> NativeRecord:
        record: NativeRecord = original(entity, native_id, patch, version)
        written.append(native_id)
        if len(written) == 2:
            w.systems["crm"].down = True  # every later call fails: the batch stops after two
        return record

    crm.update = update_then_go_down  # type: ignore[method-assign]
    for i, erp_id in enumerate(erp_ids):
        w.edit("erp", erp_id, name=f"Firma {i} neu")
    report = w.sync().entities[0]
    assert report.applied == 2 and "crm" in report.unavailable
    assert outbox_by_status(w)["pending"] == 2  # the two not sent wait, nothing was lost
    with w.store.engine.connect() as conn:
        audited = conn.execute(
            sa.select(t.audit.c.native_id).where(t.audit.c.op == "update", t.audit.c.system == "crm")
        ).scalars()
        assert sorted(audited) == sorted(written)  # what was written is recorded, with its new version
        versions = dict(
            conn.execute(sa.select(t.links.c.native_id, t.links.c.version).where(t.links.c.system == "crm")).all()
        )
    rows = w.systems["crm"].entity("customer").rows
    assert all(versions[nid] == str(rows[nid].version) for nid in written)
    w.systems["crm"].down = False
    crm.update = original  # type: ignore[method-assign]
    later = w.sync().entities[0]
    assert later.applied == 2 and later.stale == 0  # the rest is sent, nothing was stale or sent twice
    w.settle()
    assert sorted(row["name"] for row in w.rows("crm").values()) == [f"Firma {i} neu" for i in range(4)]


def test_a_page_of_changes_is_merged_in_one_transaction(tmp_path: Path) -> None:
    w = World(tmp_path)
    erp_ids = [w.add("erp", number=f"K{i}", name=f"Firma {i}") for i in range(5)]
    w.settle()
    merged: list[str] = []
    w.fault = lambda point: merged.append(point) if point == "merged_golden" else None
    for erp_id in erp_ids:
        w.edit("erp", erp_id, city="Kiel")
    report = w.sync().entities[0]
    assert report.merged == 5 and report.applied == 5
    assert merged == ["merged_golden"]  # five golden records, one merge transaction
    assert all(row["city"] == "Kiel" for row in w.rows("crm").values())
