"""What bench/sync_cycle.py measures besides time: SQL statements per cycle, and the RSS.

Imported by the bench scripts from their own folder (``sys.path[0]`` is ``bench/`` when one
is run as ``python bench/<script>.py``).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import sqlalchemy as sa


class StatementCounter:
    """Counts the SQL statements, commits and connection checkouts of every engine while active,
    with the time spent in each statement (driver + server), per database and statement text.

    Counts do not depend on the machine's load, unlike the wall time. COPY through the raw
    driver cursor is not seen (one per bulk insert of the state store)."""

    def __init__(self) -> None:
        self.active = False
        self.stats: dict[tuple[str, str], list[float]] = {}  # (database, statement) -> [count, rows, seconds]
        self.commits: dict[str, int] = {}
        self.checkouts: dict[str, int] = {}
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", self._before)
        sa.event.listen(sa.engine.Engine, "after_cursor_execute", self._after)
        sa.event.listen(sa.engine.Engine, "commit", self._commit)
        sa.event.listen(sa.pool.Pool, "checkout", self._checkout)

    @staticmethod
    def _database(conn: Any) -> str:
        return str(conn.engine.url.database or "").rsplit("/", 1)[-1]

    def _before(self, conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool) -> None:
        if self.active:
            conn.info["stmt_started"] = time.perf_counter()

    def _after(self, conn: Any, _cursor: Any, statement: str, params: Any, _context: Any, many: bool) -> None:
        if not self.active or "stmt_started" not in conn.info:
            return
        elapsed = time.perf_counter() - conn.info.pop("stmt_started")
        text = " ".join(statement.split())[:90]
        entry = self.stats.setdefault((self._database(conn), text), [0, 0, 0.0])
        entry[0] += 1
        entry[1] += len(params) if many and params is not None else 1
        entry[2] += elapsed

    def _commit(self, conn: Any) -> None:
        if self.active:
            name = self._database(conn)
            self.commits[name] = self.commits.get(name, 0) + 1

    def _checkout(self, _dbapi: Any, record: Any, _proxy: Any) -> None:
        if self.active:
            self.checkouts["all"] = self.checkouts.get("all", 0) + 1

    def summary(self) -> dict[str, Any]:
        by_db: dict[str, list[float]] = {}
        for (db, _), (count, rows, seconds) in self.stats.items():
            total = by_db.setdefault(db, [0, 0, 0.0])
            total[0] += count
            total[1] += rows
            total[2] += seconds
        return {
            "statements": {db: int(v[0]) for db, v in by_db.items()},
            "statement_rows": {db: int(v[1]) for db, v in by_db.items()},
            "statement_s": {db: round(v[2], 3) for db, v in by_db.items()},
            "commits": dict(self.commits),
            "checkouts": sum(self.checkouts.values()),
        }

    def print_top(self, limit: int = 40) -> None:
        ordered = sorted(self.stats.items(), key=lambda item: -item[1][2])
        print("# statements by time: count, rows, seconds, database, statement", file=sys.stderr)
        for (db, text), (count, rows, seconds) in ordered[:limit]:
            print(f"# {count:6d} {rows:7d} {seconds:8.3f}  {db[-18:]:18s} {text}", file=sys.stderr)

    def start(self) -> None:
        self.stats, self.commits, self.checkouts = {}, {}, {}
        self.active = True

    def stop(self, show: bool = False) -> dict[str, Any]:
        """The counts since ``start``; ``show``: the statements by time on stderr as well."""
        self.active = False
        if show:
            self.print_top()
        return self.summary()


def rss_mb() -> float:
    """The resident set size of this process now (Linux: /proc/self/status)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakRss:
    """Samples this process's RSS every 20 ms in a thread while the block runs; ``peak_mb`` after."""

    def __enter__(self) -> PeakRss:
        self.before_mb = self.peak_mb = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_mb = max(self.peak_mb, rss_mb())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, rss_mb())
