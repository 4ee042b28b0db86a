"""``POST /hooks/bottlecrm/{system}``: BottleCRM's outgoing webhooks, received by ``einklang serve``.

A delivery is checked by the system's connector (signature with ``webhook_secret``, age; see
:mod:`einklang.connectors.bottlecrm.webhooks`). A trusted one queues the record it names for the
next cycle of the entities its resource serves and starts those cycles now, so an edit in
BottleCRM reaches the other systems within a cycle's time instead of an interval's. Only that
record is read; the cursor and the periodic reconciliation stay as they are, so a delivery that
never comes costs latency, not data.

Answers: 202 (queued), 200 (a ping, or a resource no entity maps), 401 (unsigned, badly signed,
too old: counted in ``einklang_webhooks_refused_total`` by reason), 400 (signed, but no event in
it), 404 (no BottleCRM system of that name, or it has no ``webhook_secret``), 413 (too large),
503 (the scheduler has not opened its connectors). No body, header or secret is logged.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from prometheus_client import Counter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from einklang.config import LoadedConfig
    from einklang.service.metrics import ServiceMetrics
    from einklang.service.runtime import ServiceRuntime

log = logging.getLogger("einklang.service.hooks")

MAX_BODY_BYTES = 256 * 1024  # BottleCRM's payloads are a few hundred bytes


class WebhookMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        self.received = Counter(
            "einklang_webhooks_received",
            "Webhook deliveries accepted, by system and event.",
            ["system", "event"],
            registry=metrics.registry,
        )
        self.refused = Counter(
            "einklang_webhooks_refused",
            "Webhook deliveries refused (401/400), by system and reason.",
            ["system", "reason"],
            registry=metrics.registry,
        )


def webhook_routes(config: LoadedConfig, runtime: ServiceRuntime, metrics: ServiceMetrics) -> list[Route]:
    counters = WebhookMetrics(metrics)
    bottlecrm_systems = {name for name, system in config.model.systems.items() if system.connector == "bottlecrm"}

    async def receive(request: Request) -> Response:
        from einklang.connectors.bottlecrm import BottleCrmConnector
        from einklang.connectors.bottlecrm.webhooks import WebhookRefused

        system = request.path_params["system"]
        if system not in bottlecrm_systems:
            return JSONResponse({"error": f"no BottleCRM system {system!r}"}, status_code=404)
        connector = runtime.connector(system)
        if not isinstance(connector, BottleCrmConnector):
            return JSONResponse({"error": "the scheduler is not running"}, status_code=503)
        if connector.settings.webhook_secret is None:
            return JSONResponse({"error": f"system {system!r} has no webhook_secret"}, status_code=404)
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            return JSONResponse({"error": "the body is too large"}, status_code=413)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": "the body is too large"}, status_code=413)
        try:
            receipt = connector.receive_webhook(request.headers, body)
        except WebhookRefused as refused:
            counters.refused.labels(system, refused.reason).inc()
            client = request.client.host if request.client else "?"
            log.warning("%s: webhook from %s refused: %s", system, client, refused, extra={"system": system})
            status = 400 if refused.reason == "payload" else 401
            return JSONResponse({"error": str(refused)}, status_code=status)
        counters.received.labels(system, receipt.event).inc()
        for entity in receipt.entities:
            await run_in_threadpool(runtime.trigger, entity)
        if not receipt.entities:
            return JSONResponse({"ok": True, "event": receipt.event, "queued": False})
        return JSONResponse(
            {"ok": True, "event": receipt.event, "queued": True, "entities": list(receipt.entities)}, status_code=202
        )

    return [Route("/hooks/bottlecrm/{system}", receive, methods=["POST"])]
