"""The writer lock: one writer at a time; taken over only from a holder that is gone."""

from __future__ import annotations

import datetime as dt
import socket
import time
from pathlib import Path

import pytest

from einklang.store import schema as t
from einklang.store.lock import LockBusy, current_holder, writer_lock
from einklang.store.state import StateStore, open_store, utcnow


def _store(tmp_path: Path) -> StateStore:
    return open_store(f"sqlite:///{tmp_path / 'state.db'}")


def _plant(store: StateStore, holder: str, heartbeat_age: dt.timedelta, lease_seconds: int) -> None:
    now = utcnow()
    with store.transaction() as conn:
        conn.execute(
            t.locks.insert().values(
                name="writer",
                holder=holder,
                purpose="sync",
                acquired_at=now,
                heartbeat_at=now - heartbeat_age,
                lease_seconds=lease_seconds,
            )
        )


def test_a_second_writer_is_refused_with_who_holds_the_lock(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with writer_lock(store, "sync --every"), pytest.raises(LockBusy) as busy, writer_lock(store, "import"):
        pass
    assert "sync --every (process" in str(busy.value) and socket.gethostname() in str(busy.value)
    assert current_holder(store) is None  # released when the block ended
    with writer_lock(store, "import"):
        assert current_holder(store) is not None


def test_a_live_holder_on_this_host_keeps_the_lock_however_old_its_heartbeat(tmp_path: Path) -> None:
    store = _store(tmp_path)
    import os

    _plant(store, f"{socket.gethostname()}:{os.getpid()}:?:abc", dt.timedelta(hours=3), 60)
    with pytest.raises(LockBusy), writer_lock(store, "load"):
        pass


def test_a_holder_whose_process_is_gone_loses_the_lock(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _plant(store, f"{socket.gethostname()}:999999999:?:abc", dt.timedelta(seconds=1), 3600)
    with writer_lock(store, "load") as held:
        assert held.purpose == "load"


def test_a_holder_on_another_host_keeps_the_lock_for_its_lease(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _plant(store, "elsewhere:42:?:abc", dt.timedelta(minutes=30), 3600)  # an hourly sync, silent 30 min
    with pytest.raises(LockBusy), writer_lock(store, "load"):
        pass
    with store.transaction() as conn:
        conn.execute(t.locks.delete())
    _plant(store, "elsewhere:42:?:abc", dt.timedelta(minutes=30), 600)  # its lease ran out: gone
    with writer_lock(store, "load") as held:
        assert held.purpose == "load"


def test_the_holder_keeps_a_heartbeat_while_it_works(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with writer_lock(store, "load", heartbeat_every=0.05):
        first = current_holder(store)
        time.sleep(0.3)
        later = current_holder(store)
    assert first is not None and later is not None and later.heartbeat_at > first.heartbeat_at
