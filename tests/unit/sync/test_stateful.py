"""A randomized model: memory systems edited at random (creates, edits, deletes, outages) while
engines sync and crash at random points; the invariants are checked after every step."""

from __future__ import annotations

import contextlib
import itertools
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from einklang.store import conflicts
from einklang.store import schema as t

from .harness import World

FIELD_VALUES = {
    "name": ["Alpha", "Beta", "Gamma"],
    "city": ["Berlin", "Köln", "Bonn", None],
    "email": ["a@x.de", "b@x.de"],
}
CRASH_POINTS = [
    "captured_page",
    "merged_golden",
    "new_golden",
    "before_create",
    "after_create",
    "before_update",
    "after_update",
    "before_delete",
]


class SimulatedCrash(Exception):
    pass


class SyncModel(RuleBasedStateMachine):
    system_names: tuple[str, ...] = ("erp", "crm")

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        self.world = World(
            Path(self.tmp.name), systems=list(self.system_names), sync="deletes: propagate\ndelete_guard: 1"
        )
        self.numbers = itertools.count(1)
        self.edits: dict[tuple[str, str], dict[str, Any]] = {}  # (number, field) -> system -> last value
        self.deleted: set[str] = set()
        self.crash_at: str | None = None

    def teardown(self) -> None:
        self.world.store.close()
        self.tmp.cleanup()

    # --- what users do -------------------------------------------------------------------
    @rule(system=st.sampled_from(["erp", "crm", "shop"]), name=st.sampled_from(FIELD_VALUES["name"]))
    def create(self, system: str, name: str) -> None:
        if system not in self.world.names:
            return
        number = f"K{next(self.numbers)}"
        self.world.add(system, number=number, name=name)
        self.edits[(number, "name")] = {system: name}

    @rule(data=st.data())
    def edit(self, data: st.DataObject) -> None:
        system = data.draw(st.sampled_from(self.world.names))
        rows = self.world.rows(system)
        if not rows:
            return
        native_id = data.draw(st.sampled_from(sorted(rows)))
        field = data.draw(st.sampled_from(sorted(FIELD_VALUES)))
        value = data.draw(st.sampled_from(FIELD_VALUES[field]))
        number = rows[native_id]["number"]
        self.world.edit(system, native_id, **{field: value})
        self.edits.setdefault((number, field), {})[system] = value

    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        system = data.draw(st.sampled_from(self.world.names))
        rows = self.world.rows(system)
        if not rows:
            return
        native_id = data.draw(st.sampled_from(sorted(rows)))
        self.deleted.add(rows[native_id]["number"])
        self.world.remove(system, native_id)

    @rule(data=st.data())
    def toggle_outage(self, data: st.DataObject) -> None:
        system = data.draw(st.sampled_from(self.world.names))
        self.world.systems[system].down = not self.world.systems[system].down

    # --- what einklang does --------------------------------------------------------------
    @rule(crash=st.one_of(st.none(), st.sampled_from(CRASH_POINTS)))
    def sync_cycle(self, crash: str | None) -> None:
        self.crash_at = crash

        def fault(point: str) -> None:
            if point == self.crash_at:
                self.crash_at = None
                raise SimulatedCrash(point)

        self.world.fault = fault
        try:
            self.world.sync()
        except SimulatedCrash:
            self.world.engine = self.world.new_engine()  # a fresh process on the same state store
        finally:
            self.world.fault = None

    @rule(data=st.data())
    def resolve_a_conflict(self, data: st.DataObject) -> None:
        with self.world.store.transaction() as conn:
            open_conflicts = conflicts.list_conflicts(conn)
            if not open_conflicts:
                return
            conflict = data.draw(st.sampled_from(open_conflicts))
            system = data.draw(st.sampled_from(sorted(conflict.values)))
            conflicts.decide_conflict(conn, conflict.id, {"take": system, "by": "model"})

    @precondition(lambda self: True)
    @rule()
    def settle_and_check(self) -> None:
        w = self.world
        for system in w.systems.values():
            system.down = False
        w.engine = w.new_engine()
        for _ in range(8):
            if not w.sync().busy:
                break
        else:
            raise AssertionError("no quiet cycle after 8 cycles")
        self.check_converged()
        self.edits.clear()

    # --- invariants ----------------------------------------------------------------------
    @invariant()
    def no_duplicates(self) -> None:
        # I2: a number lives at most once in every system, and a native record is linked once
        for system in self.world.names:
            numbers = [row.get("number") for row in self.world.rows(system).values()]
            assert len(numbers) == len(set(numbers)), f"duplicate in {system}: {numbers}"
        with self.world.store.engine.connect() as conn:
            per_golden = conn.execute(
                sa.select(t.links.c.golden_id, t.links.c.system, sa.func.count())
                .group_by(t.links.c.golden_id, t.links.c.system)
                .having(sa.func.count() > 1)
            ).all()
            assert not per_golden

    @invariant()
    def every_write_is_audited(self) -> None:
        # I8: every applied outbox entry has an audit entry of its kind
        with self.world.store.engine.connect() as conn:
            done = conn.execute(
                sa.select(sa.func.count())
                .select_from(t.outbox)
                .where(
                    t.outbox.c.status == "done",
                    t.outbox.c.op.in_(["update", "create"]),
                    t.outbox.c.last_error.is_(None),
                )
            ).scalar_one()
            audited = conn.execute(
                sa.select(sa.func.count()).select_from(t.audit).where(t.audit.c.op.in_(["update", "create", "link"]))
            ).scalar_one()
        assert audited >= done

    def check_converged(self) -> None:
        w = self.world
        with w.store.engine.connect() as conn:
            held = {(c.golden_id, c.field) for c in conflicts.list_conflicts(conn)}
            links = conn.execute(sa.select(t.links)).all()
            goldens = {row.id: row.status for row in conn.execute(sa.select(t.golden))}
        linked: dict[str, dict[str, str]] = {}
        for link in links:
            linked.setdefault(link.golden_id, {})[link.system] = link.native_id
        rows = {system: w.rows(system) for system in w.names}
        # every live record is linked, and linked records exist (I3, I6)
        for system in w.names:
            mine = {link.native_id for link in links if link.system == system}
            assert set(rows[system]) == mine, f"{system}: records {sorted(rows[system])} vs links {sorted(mine)}"
        numbers_everywhere: dict[str, int] = {}
        for golden_id, by_system in linked.items():
            assert goldens[golden_id] == "active"
            records = {system: rows[system][nid] for system, nid in by_system.items()}
            number = next(iter(records.values()))["number"]
            numbers_everywhere[number] = len(records)
            for field in ("number", "name", "city", "email"):
                if (golden_id, field) in held:
                    continue
                values = {system: record.get(field) for system, record in records.items()}
                assert len(set(values.values())) == 1, f"{golden_id} {field} differs: {values}"
                # I1: a field changed by one system only ends with that system's value everywhere
                changes = self.edits.get((number, field), {})
                if len(changes) == 1 and number not in self.deleted:
                    assert next(iter(values.values())) == next(iter(changes.values())), (field, values, changes)
        # records live in every system unless deleted somewhere
        for number, count in numbers_everywhere.items():
            if number not in self.deleted:
                assert count == len(w.names), f"{number} only in {count} systems"
        # I4: one more cycle finds nothing to do
        report = w.sync()
        assert not report.busy, report.as_dict()


class ThreeSystemModel(SyncModel):
    system_names = ("erp", "crm", "shop")


SETTINGS = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

TestTwoSystems = SyncModel.TestCase
TestTwoSystems.settings = SETTINGS
TestThreeSystems = ThreeSystemModel.TestCase
TestThreeSystems.settings = SETTINGS

with contextlib.suppress(AttributeError):
    del SyncModel.__test__  # type: ignore[attr-defined]
