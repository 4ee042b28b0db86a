"""Pytest fixtures that run the real Tryton, BottleCRM and Radicale servers for the tests.

The servers come from ``scripts/servers/*.sh`` (installed and templated once by
``scripts/servers/setup-all.sh``). A server that cannot be started makes its tests skip with
the reason, except in CI (``CI=true``), where that is a failure: CI must not pass by skipping.

Use from a test module with ``from tests.integration.servers import *`` or by naming the
fixtures in a conftest ``pytest_plugins``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS_DIR = REPO_ROOT / "scripts" / "servers"
SERVERS_DIR = Path(os.environ.get("EINKLANG_SERVERS_DIR", "/work/.einklang-servers"))


def server_unavailable(reason: str) -> None:
    """Skip, or fail in CI, because a server is missing."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and a test server is unavailable: {reason}", pytrace=False)
    pytest.skip(f"{reason} (run scripts/servers/setup-all.sh)")


@dataclass
class RunningServer:
    name: str
    instance_dir: Path
    info: dict[str, str]

    @property
    def url(self) -> str:
        return self.info["url"]

    def stop(self, wait: bool = True) -> None:
        command = [str(SCRIPTS_DIR / f"{self.name}.sh"), "stop", str(self.instance_dir)]
        if wait:
            subprocess.run(command, check=False, capture_output=True, timeout=30)
            return
        # Servers take 1-2 s to exit on SIGTERM; the next test need not wait for that (each
        # instance has its own port and folder). Stops still running are awaited at exit.
        _pending_stops[:] = [stop for stop in _pending_stops if stop.poll() is None]
        _pending_stops.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))


_pending_stops: list[subprocess.Popen[bytes]] = []


@atexit.register
def _await_pending_stops() -> None:
    for stop in _pending_stops:
        stop.wait(timeout=30)


def _launch(name: str, instance_dir: Path) -> subprocess.Popen[str]:
    """Run ``scripts/servers/NAME.sh start`` in the background; see ``_started``."""
    script = SCRIPTS_DIR / f"{name}.sh"
    env = {**os.environ, "EINKLANG_SERVERS_DIR": str(SERVERS_DIR)}
    try:
        return subprocess.Popen(
            [str(script), "start", str(instance_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
    except OSError as failure:
        server_unavailable(f"{name}: could not run {script.name} start: {failure}")
        raise  # unreachable: server_unavailable always raises


def _started(name: str, instance_dir: Path, launch: subprocess.Popen[str]) -> RunningServer:
    """Wait for a ``_launch`` to finish: the running server, or skip/fail as ``server_unavailable``."""
    try:
        stdout, stderr = launch.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        launch.kill()
        launch.communicate()
        server_unavailable(f"{name}: {name}.sh start took more than 120 s")
    if launch.returncode != 0:
        server_unavailable(f"{name} did not start: {stderr.strip()[-600:]}")
    info = dict(line.split("=", 1) for line in stdout.splitlines() if "=" in line)
    return RunningServer(name, instance_dir, info)


def start_server(name: str, instance_dir: Path) -> RunningServer:
    return _started(name, instance_dir, _launch(name, instance_dir))


class WarmSpare:
    """Hands out servers of one kind, each on a fresh copy of the template, without the wait.

    Starting trytond takes 1.5-3 s of one core; ``take()`` returns the server started while
    the previous test ran and starts the next one, which the other core has time for.
    """

    def __init__(self, name: str, root: Path) -> None:
        self.name, self.root, self.count = name, root, 0
        self.spare: tuple[Path, subprocess.Popen[str]] | None = None

    def _start_spare(self) -> None:
        self.count += 1
        instance_dir = self.root / f"{self.name}-{self.count}"
        self.spare = (instance_dir, _launch(self.name, instance_dir))

    def take(self) -> RunningServer:
        if self.spare is None:
            self._start_spare()
        assert self.spare is not None
        instance_dir, launch = self.spare
        self.spare = None
        server = _started(self.name, instance_dir, launch)
        self._start_spare()
        return server

    def close(self) -> None:
        if self.spare is not None:
            instance_dir, launch = self.spare
            self.spare = None
            launch.communicate()
            RunningServer(self.name, instance_dir, {}).stop(wait=False)


@pytest.fixture(scope="module")
def tryton_spare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WarmSpare]:
    """Tryton servers for the tests of one module, each started while the test before ran."""
    spare = WarmSpare("tryton", tmp_path_factory.mktemp("tryton"))
    yield spare
    spare.close()


@pytest.fixture
def tryton_server(tryton_spare: WarmSpare) -> Iterator[RunningServer]:
    """A Tryton server of its own on a fresh copy of the template database (ready when the test
    starts: it was started while the previous test ran)."""
    server = tryton_spare.take()
    yield server
    server.stop(wait=False)


@pytest.fixture
def radicale_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A Radicale server on empty storage with the address book created (well under 1 s)."""
    server = start_server("radicale", tmp_path / "radicale")
    yield server
    server.stop(wait=False)


@pytest.fixture(scope="module")
def bottlecrm_running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    # Django takes seconds to start, so one server serves a test module; bottlecrm_server
    # below gives each test a fresh database under it.
    server = start_server("bottlecrm", tmp_path_factory.mktemp("bottlecrm"))
    yield server
    server.stop()


@pytest.fixture
def bottlecrm_server(bottlecrm_running: RunningServer) -> RunningServer:
    """The module's BottleCRM server, its database reset to the template for this test.

    Safe while the server runs: Django (CONN_MAX_AGE=0) closes its SQLite connection after
    every request, so between tests no connection holds the file.
    """
    template = SERVERS_DIR / "bottlecrm" / "template" / "db.sqlite3"
    shutil.copyfile(template, bottlecrm_running.instance_dir / "db.sqlite3")
    return bottlecrm_running


__all__ = [
    "RunningServer",
    "WarmSpare",
    "bottlecrm_running",
    "bottlecrm_server",
    "radicale_server",
    "server_unavailable",
    "start_server",
    "tryton_server",
    "tryton_spare",
]
