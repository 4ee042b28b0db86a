"""EchoMemo (sync/echoes.py): a record read again with exactly the same native fields has the
canonical hash it had, without mapping; anything else is mapped again."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.unit.sync.harness import World

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
