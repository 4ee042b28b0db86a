"""Log lines: one JSON object per line with context fields, secrets masked (tracebacks too)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from einklang import masking
from einklang.service.logs import configure_logging

SECRET = "pg-password-Zq9!"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_context_and_mask_secrets(restore_logging: None) -> None:
    masking.register(SECRET)
    stream = io.StringIO()
    configure_logging("json", stream=stream)
    log = logging.getLogger("einklang.service.scheduler")
    log.warning("crm unavailable: login with %s refused", SECRET, extra={"entity": "company", "system": "crm"})
    try:
        raise RuntimeError(f"postgresql://einklang:{SECRET}@db/state failed")
    except RuntimeError:
        log.exception("cycle of company failed", extra={"entity": "company", "run_id": 17})
    logging.getLogger("uvicorn.access").info('127.0.0.1:5000 - "GET /healthz HTTP/1.1" 200')
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    first, second, third = (json.loads(line) for line in lines)
    assert first["level"] == "warning" and first["logger"] == "einklang.service.scheduler"
    assert (first["entity"], first["system"]) == ("company", "crm")
    assert first["message"] == "crm unavailable: login with *** refused"
    assert first["ts"].endswith("Z")
    assert second["run_id"] == 17 and "RuntimeError" in second["exception"]
    assert "run_id" not in first and "system" not in second
    assert third["logger"] == "uvicorn.access"
    assert SECRET not in stream.getvalue()


def test_text_lines_are_masked_too(restore_logging: None) -> None:
    masking.register(SECRET)
    stream = io.StringIO()
    configure_logging("text", stream=stream)
    logging.getLogger("einklang.service").info("token %s", SECRET, extra={"entity": "contact"})
    line = stream.getvalue().strip()
    assert line.endswith("einklang.service: token *** [entity=contact]")
    assert SECRET not in line
