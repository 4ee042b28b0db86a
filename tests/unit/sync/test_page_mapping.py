"""The initial load's page mapper: worker processes and their lifetime."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
from einklang.config import parse_config
from einklang.connectors.base import NativeRecord
from einklang.sync.page_mapping import PageMapper

config = parse_config('''
systems:
  a: {connector: memory}
  b: {connector: memory}
entities:
  company:
    fields: {name: str, phone: phone}
    systems:
      a: {map: {name: name, phone: phone}}
      b: {map: {name: name, phone: phone}}
''', None, environ={})
page = [NativeRecord(str(i), None, {"name": f"Firma {i}", "phone": "030 1234567"}) for i in range(10)]
with PageMapper(config.mapping("company", "a"), config.mapping("company", "b"), None, workers=2) as mapper:
    for _page, mapped in mapper.map([page, page, page]):
        assert mapped[0].canonical == {"name": "Firma 0", "phone": "+49301234567"}
    print(json.dumps(sorted(mapper._pool._processes)), flush=True)  # type: ignore[union-attr]
    time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "State:\tZ" not in status.read_text()


def test_workers_end_when_the_load_is_killed(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        workers = json.loads(child.stdout.readline())
        assert len(workers) == 2 and all(_alive(pid) for pid in workers)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in workers), "mapping workers outlived the killed load"
    finally:
        if child.poll() is None:
            child.kill()
