"""EchoMemo (sync/echoes.py): a record read again with exactly the same native fields has the
canonical hash it had, without mapping; anything else is mapped again."""

from __future__ import annotations

import datetime as dt
import tracemalloc
from pathlib import Path

from tests.unit.sync.harness import World

from einklang.model import record_hash
from einklang.sync.echoes import EchoMemo, native_digest


def test_the_digest_is_of_the_exact_native_fields() -> None:
    fields = {"name": "Alpha GmbH", "changed": dt.datetime(2026, 1, 1, 12, 0), "n": 1}
    assert native_digest(fields) == native_digest(dict(reversed(list(fields.items()))))
    assert native_digest(fields) != native_digest({**fields, "name": "Alpha GmbH "})
    assert native_digest(fields) != native_digest({**fields, "n": "1"})


def test_the_memo_answers_only_for_the_same_digest_and_forgets_the_oldest() -> None:
    memo = EchoMemo(limit=2)
    memo.remember(("crm", "company", "1"), "d1", "h1")
    assert memo.canonical_hash(("crm", "company", "1"), "d1") == "h1"
    assert memo.canonical_hash(("crm", "company", "1"), "other") is None
    memo.remember(("crm", "company", "2"), "d2", "h2")
    memo.canonical_hash(("crm", "company", "1"), "d1")  # used: the newest now
    memo.remember(("crm", "company", "3"), "d3", "h3")
    assert len(memo) == 2
    assert memo.canonical_hash(("crm", "company", "2"), "d2") is None  # the least recently used went
    assert memo.canonical_hash(("crm", "company", "1"), "d1") == "h1"


def test_the_memo_is_compact_and_its_memory_stays_flat_at_its_limit() -> None:
    """A cycle of 100,000 changes fills the memo with 200,000 records (issue 14 item 6: RSS of
    such a cycle <= 300 MB): an entry must stay small (it was ~444 bytes as tuples of strings),
    and remembering more than the limit must not take more memory."""

    def fill(memo: EchoMemo, count: int, start: int = 0) -> None:
        for i in range(start, start + count):  # fresh strings, as records read from a system bring
            system = "erp" if i % 2 else "crm"
            native_id = f"K{i:09d}" if i % 2 else str(i + 1)
            memo.remember((system, "company", native_id), native_digest({"n": i}), record_hash({"name": str(i)}))

    count = 20_000
    tracemalloc.start()
    try:
        memo = EchoMemo(limit=count)
        before = tracemalloc.get_traced_memory()[0]
        fill(memo, count)
        full = tracemalloc.get_traced_memory()[0] - before
        fill(memo, count, start=count)  # as many again: the oldest are forgotten
        again = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(memo) == count
    assert full / count < 300, f"{full / count:.0f} bytes per remembered record"
    assert again < full * 1.5  # deleted slots until the table is rebuilt, not twice the memory
    # still exact after the compaction: the same digest answers, another does not
    last = (("erp" if (2 * count - 1) % 2 else "crm"), "company", f"K{2 * count - 1:09d}")
    assert memo.canonical_hash(last, native_digest({"n": 2 * count - 1})) == record_hash({"name": str(2 * count - 1)})
    assert memo.canonical_hash(last, native_digest({"n": 0})) is None


def test_echoes_read_again_are_not_mapped_again_and_real_edits_still_arrive(tmp_path: Path) -> None:
    world = World(tmp_path)
    number = world.add("erp", number="K1", name="Alpha GmbH", city="Berlin")
    world.settle()
    crm_id = next(iter(world.rows("crm")))
    calls = 0
    assert len(world.engine.echo_memo) >= 1  # remembered by the engine across cycles

    from einklang.mapping import EntityMapping

    real = EntityMapping.to_canonical

    def counting(self: EntityMapping, fields: object) -> object:
        nonlocal calls
        calls += 1
        return real(self, fields)  # type: ignore[arg-type]

    EntityMapping.to_canonical = counting  # type: ignore[assignment,method-assign]
    try:
        for system in ("erp", "crm"):  # read again as inside a cursor's overlap: the same fields
            world.systems[system].edit("customer", number if system == "erp" else crm_id, {})
        report = world.sync().entities[0]
        assert report.echoes >= 1 and not report.captured
        assert calls == 0, "an unchanged record was mapped again"
        world.edit("crm", crm_id, city="Hamburg")
        world.settle()
        assert calls >= 1 and world.by_number("erp")["K1"]["city"] == "Hamburg"
    finally:
        EntityMapping.to_canonical = real  # type: ignore[method-assign]
