"""What the web app needs of the sync scheduler, and a stand-in when no scheduler runs.

``einklang serve`` hands the web app its scheduler (:class:`SchedulerRuntime`): the overview shows
each entity's schedule and an admin can ask for a cycle now. Without a scheduler (the web app
served alone, ``python -m einklang.web``), :class:`OnDemandCycles` runs one cycle in a worker
thread on request, with the same engine and writer lock as ``einklang sync --once``.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from einklang.config import LoadedConfig


@runtime_checkable
class SchedulerRuntime(Protocol):
    """The scheduler of ``einklang serve`` as the web app sees it."""

    def status(self) -> Sequence[Any]:
        """One entry per entity: an object or mapping with ``entity``, ``interval`` (seconds),
        ``running`` (bool), ``last_started``, ``last_finished`` (datetimes or None),
        ``last_outcome`` (text or None) and ``next_due`` (datetime or None)."""
        ...

    def trigger(self, entity: str | None = None) -> bool:
        """Ask for a cycle now (of one entity, or all); False when one is running already."""
        ...


@dataclass(frozen=True)
class ScheduleLine:
    """One entity's schedule as the overview shows it."""

    entity: str
    interval: float | None
    running: bool
    last_started: dt.datetime | None
    last_finished: dt.datetime | None
    last_outcome: str | None
    next_due: dt.datetime | None
    last_message: str | None = None  # one line for people about the last cycle

    def as_dict(self) -> dict[str, Any]:
        return {
            key: value.isoformat(timespec="seconds") if isinstance(value, dt.datetime) else value
            for key, value in self.__dict__.items()
        }


def schedule_lines(runtime: SchedulerRuntime) -> list[ScheduleLine]:
    """The runtime's status entries, read by name whether they are objects or mappings."""

    def get(entry: Any, name: str) -> Any:
        if isinstance(entry, Mapping):
            return entry.get(name)
        return getattr(entry, name, None)

    lines = []
    for entry in runtime.status():
        interval = get(entry, "interval")
        if isinstance(interval, dt.timedelta):
            interval = interval.total_seconds()
        lines.append(
            ScheduleLine(
                entity=str(get(entry, "entity") or ""),
                interval=float(interval) if isinstance(interval, int | float) else None,
                running=bool(get(entry, "running")),
                last_started=_time(get(entry, "last_started")),
                last_finished=_time(get(entry, "last_finished")),
                last_outcome=str(outcome) if (outcome := get(entry, "last_outcome")) is not None else None,
                next_due=_time(get(entry, "next_due")),
                last_message=str(message) if (message := get(entry, "last_message")) else None,
            )
        )
    return lines


def _time(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC).replace(tzinfo=None)
    return None


class OnDemandCycles:
    """No scheduler: a cycle runs only when an admin asks, one at a time, in a worker thread."""

    def __init__(self, loaded: LoadedConfig) -> None:
        self.loaded = loaded
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._started: dt.datetime | None = None
        self._finished: dt.datetime | None = None
        self._outcome: str | None = None

    def status(self) -> list[dict[str, Any]]:
        running = self._thread is not None and self._thread.is_alive()
        return [
            {
                "entity": entity,
                "interval": None,
                "running": running,
                "last_started": self._started,
                "last_finished": self._finished,
                "last_outcome": self._outcome,
                "next_due": None,
            }
            for entity in self.loaded.model.entities
        ]

    def trigger(self, entity: str | None = None) -> bool:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return False
            self._started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            self._thread = threading.Thread(
                target=self._run, args=([entity] if entity else None,), name="einklang-web-cycle", daemon=True
            )
            self._thread.start()
            return True

    def wait(self, timeout: float | None = None) -> None:
        """Until the running cycle (if any) has finished (tests, shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self, entities: list[str] | None) -> None:
        try:
            report = run_one_cycle(self.loaded, entities)
            failed = [e.entity for e in report.entities if e.failed or e.unavailable]
            self._outcome = "ok" if not failed else f"attention: {', '.join(failed)}"
        except Exception as exc:  # the worker reports, the web app keeps serving
            from einklang.masking import mask

            self._outcome = f"failed: {mask(str(exc))}"
        finally:
            self._finished = dt.datetime.now(dt.UTC).replace(tzinfo=None)


def run_one_cycle(loaded: LoadedConfig, entities: list[str] | None = None) -> Any:
    """One sync cycle as ``einklang sync --once`` runs it: the writer lock, every system's
    connector, the engine. Returns the engine's cycle report."""
    from einklang.cli._common import writing
    from einklang.sync.engine import SyncEngine
    from einklang.systems import open_connector

    with ExitStack() as closing, writing(loaded, "sync (web app)", wait=30.0) as store:
        closing.callback(store.close)  # after the writer lock is released
        with ExitStack() as stack:
            connectors = {name: stack.enter_context(open_connector(loaded, name)) for name in loaded.model.systems}
            return SyncEngine(loaded, store, connectors).run_cycle(entities=entities)
