"""The audit log: a batch of creates is one row, read back as one entry per record."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from einklang.store import journal
from einklang.store import schema as t
from einklang.store.state import StateStore, open_store


def _store(tmp_path: Path) -> StateStore:
    return open_store(f"sqlite:///{tmp_path / 'state.db'}")


def _batch(ids: list[str]) -> list[journal.BatchCreate]:
    return [(gid, f"n-{gid}", f'{{"name": "Firma {gid}"}}') for gid in ids]


def test_a_batch_is_one_row_read_back_per_record_newest_first(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with store.transaction() as conn:
        journal.audit_created_batch(conn, None, "crm", "company", "initial load from erp", _batch(["g1", "g3"]))
        journal.audit(conn, None, [{"entity": "company", "golden_id": "g3", "op": "update", "cause": "sync"}])
        # a second batch whose range of golden ids overlaps the first (two mapping workers)
        journal.audit_created_batch(conn, None, "crm", "company", "initial load from erp", _batch(["g2", "g4"]))
    with store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.audit)).scalar_one() == 3
        everything = journal.audit_log(conn, entity="company")
        assert [(e.op, e.golden_id) for e in everything] == [
            ("create", "g4"), ("create", "g2"), ("update", "g3"), ("create", "g3"), ("create", "g1")
        ]  # fmt: skip
        first = everything[-1]
        assert (first.system, first.native_id, first.new, first.cause) == (
            "crm", "n-g1", {"name": "Firma g1"}, "initial load from erp"
        )  # fmt: skip
        assert [e.golden_id for e in journal.audit_log(conn, limit=3)] == ["g4", "g2", "g3"]
        # one record's history: its own rows and its entry of the batch holding it, no other record's
        assert [(e.op, e.golden_id) for e in journal.audit_log(conn, golden_id="g3")] == [
            ("update", "g3"), ("create", "g3")
        ]  # fmt: skip
        assert [(e.op, e.golden_id) for e in journal.audit_log(conn, golden_id="g2")] == [("create", "g2")]
        assert journal.audit_log(conn, golden_id="g5") == []
        assert journal.audit_log(conn, entity="contact") == []
