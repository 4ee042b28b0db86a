"""The web app and JSON API of ``einklang serve`` (see docs/web.md).

:func:`build_web_app` is the public face: ``einklang serve`` mounts it beside its scheduler,
``/healthz`` and ``/metrics``; ``python -m einklang.web`` serves it alone for development.
"""

from einklang.web.app import build_web_app
from einklang.web.runtime import SchedulerRuntime

__all__ = ["SchedulerRuntime", "build_web_app"]
