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


# ------------------------------------------------------------------ planning a create, text fast path

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from einklang.config import parse_config  # noqa: E402
from einklang.sync.page_mapping import planned_create, planned_create_any, reads_back_unchanged  # noqa: E402

_PLANNING = parse_config(
    """
systems:
  a: {connector: memory}
  b: {connector: memory}
  c: {connector: memory}
entities:
  company:
    fields: {name: str, note: text, phone: phone, email: email, country: country, kind: {type: enum, values: [a, b]},
             city: str}
    systems:
      a: {map: {name: name, note: note, phone: phone, email: email, country: country, kind: kind, city: city}}
      b: {map: {name: name, note: note, phone: phone, email: email, country: land, kind: kind}}
      c: {map: {name: {column: name, transform: [upper]}, phone: {column: tel, values: {"+49301234567": "Zentrale"}},
                email: email, city: {column: name, read_only: true}}}
""",
    None,
    environ={},
)

_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_native = st.fixed_dictionaries(
    {},
    optional={
        "name": _text,
        "note": _text,
        "phone": st.sampled_from(["030 1234567", "+49 89 987654", "0221/123456", "kein Telefon", ""]),
        "email": st.sampled_from(["info@firma.de", " Info@Firma.DE ", "kaputt@", ""]),
        "country": st.sampled_from(["Deutschland", "AT", "Schweiz", "Atlantis", ""]),
        "kind": st.sampled_from(["a", "b", "c", ""]),
        "city": _text,
    },
)


@settings(max_examples=300, deadline=None)
@given(native=_native, target=st.sampled_from(["a", "b", "c"]))
def test_text_records_are_planned_as_the_general_path_plans_them(native: dict[str, str], target: str) -> None:
    source_mapping = _PLANNING.mapping("company", "a")
    target_mapping = _PLANNING.mapping("company", target)
    canonical, problems = source_mapping.to_canonical(native)
    present = {name: value for name, value in canonical.items() if value is not None}
    fast = planned_create(target_mapping, canonical, problems, "g-1", "einklang_id")
    general = planned_create_any(target_mapping, canonical, present, problems, "g-1", "einklang_id")
    assert fast._replace(audit_new=json.loads(fast.audit_new)) == general._replace(
        audit_new=json.loads(general.audit_new)
    )


def test_only_plain_column_rules_read_back_unchanged() -> None:
    assert reads_back_unchanged(_PLANNING.mapping("company", "a")) == {
        "name", "note", "phone", "email", "country", "kind", "city"
    }  # fmt: skip
    assert reads_back_unchanged(_PLANNING.mapping("company", "b")) == {
        "name",
        "note",
        "phone",
        "email",
        "country",
        "kind",
    }
    # a transform, a value table, a column shared with a read-only rule: read back through the mapping
    assert reads_back_unchanged(_PLANNING.mapping("company", "c")) == {"email"}
