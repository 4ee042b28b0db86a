"""Log lines of ``einklang serve``: text for people, or one JSON object per line for a collector.

Every line passes :func:`einklang.masking.mask`, tracebacks included, so a password that a
driver quotes in an error never reaches the journal. JSON lines carry ``ts`` (UTC, ISO 8601),
``level``, ``logger``, ``message`` and, where known, ``entity``, ``system`` and ``run_id``
(given as ``extra=`` by the code that logs).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any, Literal, TextIO

from einklang.masking import mask

LogFormat = Literal["text", "json"]
CONTEXT_FIELDS = ("entity", "system", "run_id")


def _when(record: logging.LogRecord) -> str:
    return dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _when(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask(record.getMessage()),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None and value != "":
                entry[name] = mask(str(value)) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = mask(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(
            f"{name}={getattr(record, name)}"
            for name in CONTEXT_FIELDS
            if getattr(record, name, None) not in (None, "")
        )
        line = f"{_when(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if context:
            line += f" [{context}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return mask(line)


def configure_logging(
    log_format: LogFormat = "text", *, level: int = logging.INFO, stream: TextIO | None = None
) -> None:
    """Send every logger's lines (uvicorn's too) to ``stream`` (stderr) in ``log_format``."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    for noisy in ("splink", "httpx", "httpcore", "mail.log", "alembic"):  # aiosmtpd, httpx: a line per request
        logging.getLogger(noisy).setLevel(logging.WARNING)
