"""The scheduler of ``einklang serve``: real cycles against SQLite systems, the writer lock, outages."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from einklang.config import LoadedConfig
from einklang.service.runtime import CycleOutcome, ServiceRuntime
from einklang.store.lock import writer_lock
from einklang.store.state import StateStore, store_for_config

from .world import crm_city, edit_erp_city, linked_world, wait_for


@contextmanager
def running(loaded: LoadedConfig, **options: float) -> Iterator[tuple[ServiceRuntime, StateStore, list[CycleOutcome]]]:
    store = store_for_config(loaded)
    seen: list[CycleOutcome] = []
    runtime = ServiceRuntime(loaded, store, listeners=[seen.append], **options)
    runtime.start()
    try:
        yield runtime, store, seen
    finally:
        runtime.stop(timeout=60)
        store.close()


def _finished_cycles(seen: list[CycleOutcome], entity: str = "company") -> int:
    return sum(1 for outcome in seen if outcome.entity == entity and outcome.report is not None)


def _runs(directory: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(directory / "state.db") as state:
        return [(str(kind), str(status)) for kind, status in state.execute("SELECT kind, status FROM runs")]


def test_each_entity_runs_at_start_and_a_trigger_brings_an_edit_across(tmp_path: Path) -> None:
    loaded = linked_world(tmp_path, interval=3600)
    with running(loaded) as (runtime, _store, seen):
        wait_for(lambda: _finished_cycles(seen) >= 1, "the first cycle")
        [schedule] = runtime.status()
        assert (schedule.entity, schedule.interval, schedule.last_outcome) == ("company", 3600, "ok")
        assert schedule.next_due is not None and schedule.last_finished is not None
        assert schedule.next_due > schedule.last_finished  # the next one waits for its interval
        edit_erp_city(tmp_path, "K2", "Lübeck")
        assert runtime.trigger("company") is True
        wait_for(lambda: crm_city(tmp_path, "K2") == "Lübeck", "the edit to reach the CRM")
        outcome = wait_for(lambda: next((o for o in seen if o.report and o.report.captured), None), "the busy cycle")
        assert outcome.report is not None and outcome.report.applied == 1
        assert runtime.status()[0].last_run_id is not None
    assert ("sync", "running") not in _runs(tmp_path)
    assert ("sync", "ok") in _runs(tmp_path)


def test_trigger_refuses_an_unknown_entity(tmp_path: Path) -> None:
    loaded = linked_world(tmp_path)
    store = store_for_config(loaded)
    runtime = ServiceRuntime(loaded, store)  # not started: trigger only records the wish
    try:
        assert runtime.trigger("planet") is False
        assert runtime.trigger("company") is True
        assert runtime.trigger() is True
    finally:
        runtime.stop()
        store.close()


def test_a_cycle_that_found_work_runs_again_soon(tmp_path: Path) -> None:
    loaded = linked_world(tmp_path, interval=3600)
    with running(loaded, busy_again_after=0.1) as (runtime, _store, seen):
        wait_for(lambda: _finished_cycles(seen) >= 1, "the first cycle")
        edit_erp_city(tmp_path, "K1", "Husum")
        runtime.trigger("company")
        # the busy cycle is followed by another one without a trigger, despite the hour's interval
        wait_for(lambda: any(o.report and o.report.busy for o in seen), "a busy cycle")
        busy_at = next(i for i, o in enumerate(seen) if o.report and o.report.busy)
        wait_for(lambda: len(seen) > busy_at + 1, "the cycle after the busy one")
        assert not any(o.schedule.last_outcome == "error" for o in seen)


def test_another_writer_makes_cycles_wait_and_say_who(tmp_path: Path) -> None:
    loaded = linked_world(tmp_path, interval=3600)
    store = store_for_config(loaded)
    with ExitStack() as other_writer:
        other_writer.callback(store.close)
        other_writer.enter_context(writer_lock(store, "import"))
        with running(loaded, lock_retry_after=0.1) as (runtime, _own_store, seen):
            status = wait_for(
                lambda: runtime.status()[0] if runtime.status()[0].last_outcome == "waiting" else None,
                "the cycle to wait for the lock",
            )
            assert "import (process" in status.last_message
            assert _finished_cycles(seen) == 0 and runtime.is_alive()
            other_writer.close()  # the import is done: the waiting cycle runs
            wait_for(lambda: _finished_cycles(seen) >= 1, "the cycle once the lock is free")
            assert runtime.status()[0].last_outcome == "ok"


def test_an_unreachable_system_is_shown_and_the_service_keeps_running(tmp_path: Path) -> None:
    loaded = linked_world(tmp_path, interval=3600)
    (tmp_path / "crm.db").rename(tmp_path / "crm.db.away")
    (tmp_path / "crm.db").mkdir()  # a folder where the database was: SQLite cannot open it
    with running(loaded) as (runtime, _store, seen):
        wait_for(lambda: _finished_cycles(seen) >= 1, "the first cycle")
        [schedule] = runtime.status()
        assert schedule.last_outcome == "unavailable"
        assert "crm" in schedule.unavailable and "crm unavailable" in schedule.last_message
        assert runtime.is_alive()
        (tmp_path / "crm.db").rmdir()
        (tmp_path / "crm.db.away").rename(tmp_path / "crm.db")
        edit_erp_city(tmp_path, "K3", "Flensburg")

        # the breaker keeps the CRM closed for its cooldown; triggers after it bring the edit across
        def arrived() -> bool:
            runtime.trigger("company")
            return crm_city(tmp_path, "K3") == "Flensburg"

        wait_for(arrived, "the CRM to be written once it is back", deadline=120)
        wait_for(lambda: runtime.status()[0].last_outcome == "ok", "an ok cycle")


@pytest.mark.parametrize("entity", [None, "company"])
def test_stop_finishes_without_leaving_a_run_running(tmp_path: Path, entity: str | None) -> None:
    loaded = linked_world(tmp_path, interval=3600)
    edit_erp_city(tmp_path, "K1", "Emden")
    with running(loaded) as (runtime, _store, seen):
        runtime.trigger(entity)
        wait_for(lambda: _finished_cycles(seen) >= 1, "a cycle")
    assert not runtime.is_alive()
    assert ("sync", "running") not in _runs(tmp_path)
