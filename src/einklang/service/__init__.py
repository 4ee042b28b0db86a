"""``einklang serve``: one process that runs the sync scheduler, the web app, /metrics and notifications.

- :mod:`~einklang.service.runtime`: the scheduler thread (each entity at its ``sync.interval``,
  the same :class:`~einklang.sync.engine.SyncEngine` and writer lock as ``einklang sync``) and the
  :class:`ServiceRuntime` object the web app asks for status and triggers cycles through;
- :mod:`~einklang.service.metrics`: Prometheus metrics in a registry of their own;
- :mod:`~einklang.service.notifier`, :mod:`~einklang.service.digest`, :mod:`~einklang.service.channels`:
  digests of new work for people, by mail and webhook, each event reported once;
- :mod:`~einklang.service.app`: the ASGI app (``/healthz``, ``/readyz``, ``/metrics``, the web app);
- :mod:`~einklang.service.logs`: text or JSON log lines, secrets masked.

Nothing here is imported by the core, the store or the sync engine: the service sits on top.
"""

from __future__ import annotations

from einklang.service.runtime import EntitySchedule, ServiceRuntime

__all__ = ["EntitySchedule", "ServiceRuntime"]
