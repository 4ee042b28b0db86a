"""``einklang serve``: the sync scheduler, the web app, /metrics and notifications in one process.

SIGTERM or SIGINT stop it: the HTTP server stops accepting, the running sync cycle finishes,
and the process exits 0. ``--check`` validates everything ``serve`` needs and exits.
"""

from __future__ import annotations

import signal
import socket
from typing import TYPE_CHECKING, Annotated, Any

import typer

from einklang.cli._common import (
    EXIT_FAILED,
    EXIT_USAGE,
    CliError,
    ConfigOption,
    LeaseSeconds,
    Partitions,
    cli_errors,
    emit_json,
    lit,
    load,
    mask,
    say,
    store_for,
)

if TYPE_CHECKING:
    from einklang.config import LoadedConfig


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    config: ConfigOption = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (default: service.host, else 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", help="Port to listen on (default: service.port, else 8080).", min=0, max=65535),
    ] = None,
    log_format: Annotated[
        str, typer.Option("--log-format", help="Log lines as text, or json (one object per line).")
    ] = "text",
    check: Annotated[
        bool, typer.Option("--check", help="Check config, state store, systems and port; then exit (0: all ok).")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="With --check: print the result as one JSON document.")
    ] = False,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker",
            help="One of several sync workers sharing the entities by leases (PostgreSQL state store; "
            "docs/sync-workers.md).",
        ),
    ] = False,
    lease: LeaseSeconds = 30.0,
    partitions: Partitions = 1,
) -> None:
    """Run the sync scheduler (each entity every sync.interval seconds), the web app, /healthz, /readyz
    and /metrics, and send notifications; until SIGTERM/SIGINT (the running cycle finishes first)."""
    with cli_errors(as_json):
        if log_format not in ("text", "json"):
            raise CliError(f"--log-format must be text or json, not {log_format!r}", EXIT_USAGE)
        loaded = load(config)
        settings = loaded.model.service
        address = (host or settings.host, settings.port if port is None else port)
        if check:
            _check(loaded, address, as_json)
            return
        if worker and not loaded.state_url.startswith("postgresql"):
            raise CliError(
                "several sync workers need a PostgreSQL state store (state: postgresql+psycopg://...)", EXIT_USAGE
            )
        if lease < 1:
            raise CliError("--lease must be at least 1 second", EXIT_USAGE)
        if partitions > 1 and not worker:
            raise CliError("--partitions is for several sync workers: give --worker too", EXIT_USAGE)
        worker_lease = (lease, partitions) if worker else None
        _serve(loaded, address, "json" if log_format == "json" else "text", worker_lease)


def _bind(address: tuple[str, int]) -> socket.socket:
    """The listening socket, bound before anything starts: a port in use is a clear error."""
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise CliError(f"cannot listen on {address[0]}:{address[1]}: {exc.strerror or exc}", EXIT_FAILED) from None
    return sock


def _check(loaded: LoadedConfig, address: tuple[str, int], as_json: bool) -> None:
    from einklang.cli.setup import run_checks

    results = run_checks(loaded)
    try:
        _bind(address).close()
        results.append({"name": "port", "kind": "listen", "ok": True, "detail": f"{address[0]}:{address[1]} is free"})
    except CliError as busy:
        results.append({"name": "port", "kind": "listen", "ok": False, "detail": str(busy)})
    results.append(_notifications_check(loaded))
    all_ok = all(result["ok"] for result in results)
    if as_json:
        emit_json({"ok": all_ok, "checks": results})
    else:
        for result in results:
            mark = "[green]ok[/]    " if result["ok"] else "[red]failed[/]"
            say(f"{mark} {lit(result['name']):<14} {lit(result['kind']):<10} {lit(mask(str(result['detail'])))}")
    if not all_ok:
        raise typer.Exit(EXIT_FAILED)


def _notifications_check(loaded: LoadedConfig) -> dict[str, Any]:
    """The mail server is logged in to (nothing is sent); the webhook is only named (a POST would be news)."""
    from einklang.service.channels import DeliveryFailed, check_smtp, webhook_host

    settings = loaded.model.service.notifications
    parts = []
    ok = True
    if settings.email is not None:
        try:
            parts.append(check_smtp(settings.email))
        except DeliveryFailed as failed:
            ok = False
            parts.append(str(failed))
    if settings.webhook is not None:
        parts.append(f"webhook {webhook_host(settings.webhook.url)} (not called)")
    return {"name": "notifications", "kind": "config", "ok": ok, "detail": "; ".join(parts) or "none configured"}


def _serve(
    loaded: LoadedConfig, address: tuple[str, int], log_format: str, lease: tuple[float, int] | None = None
) -> None:
    """``lease``: (lease seconds, partitions) when this process is one of several sync workers."""
    import logging

    import uvicorn

    from einklang.service.app import build_service_app
    from einklang.service.logs import configure_logging
    from einklang.service.metrics import ServiceMetrics
    from einklang.service.notifier import Notifier
    from einklang.service.runtime import ServiceRuntime

    configure_logging("json" if log_format == "json" else "text")
    log = logging.getLogger("einklang.service")
    store = store_for(loaded)
    metrics = ServiceMetrics(loaded, store)
    keeper = None
    if lease is not None:
        from einklang.sync.workers import LeaseKeeper, WorkerOptions

        # every: unused by the scheduler (each entity keeps its sync.interval)
        options = WorkerOptions(every=0, lease_seconds=lease[0], partitions=lease[1])
        keeper = LeaseKeeper(store, list(loaded.model.entities), options)
    runtime = ServiceRuntime(loaded, store, listeners=[metrics.observe], leases=keeper)

    notifier = Notifier(loaded, store, on_delivery=metrics.count_delivery)
    app = build_service_app(loaded, store, runtime, metrics)
    sock = _bind(address)

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            runtime.request_stop()  # no new cycle while the HTTP side shuts down
            super().handle_exit(sig, frame)

    server = Server(uvicorn.Config(app, log_config=None, server_header=False, lifespan="auto"))
    # uvicorn raises the signal again once it has stopped: these handlers make that a no-op, so
    # the process ends by returning (exit 0) after the running cycle has finished
    previous = {sig: signal.signal(sig, lambda *_: runtime.request_stop()) for sig in (signal.SIGINT, signal.SIGTERM)}
    host, port = sock.getsockname()[:2]
    try:
        runtime.start()
        notifier.start()
        log.info(
            "einklang serve: listening on http://%s:%s (entities: %s; notifications: %s)",
            host,
            port,
            ", ".join(f"{s.entity} every {s.interval:g} s" for s in runtime.status()) or "none",
            ", ".join(channel.name for channel in notifier.channels) or "none",
        )
        server.run(sockets=[sock])
        if not server.started and not runtime.stopping:  # e.g. the web app failed at its startup
            raise CliError("the HTTP server did not start; the log above says why", EXIT_FAILED)
    finally:
        log.info("einklang serve: stopping; the running cycle finishes first")
        runtime.stop()
        notifier.stop(timeout=60)
        store.close()
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("einklang serve: stopped")
