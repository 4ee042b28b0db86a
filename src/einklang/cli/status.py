"""``einklang status``: per entity and system, what is linked, waiting, failed and when it last ran."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from einklang.cli._common import ConfigOption, JsonOption, cli_errors, emit_json, lit, load, mask, render_table, say

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from einklang.config import LoadedConfig
    from einklang.store.reports import RecordName


def register(app: typer.Typer) -> None:
    app.command("status")(status)


def status(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Per entity and system: linked records, cursor, waiting and failed writes, open conflicts, last run."""
    with cli_errors(as_json):
        loaded = load(config)
        entities, failed, waiting, held, names = _collect(loaded)
        for write in failed + waiting:
            name = names.get(write["golden_id"])
            write["record"] = name.as_dict() if name else None
        workers = _workers(loaded)
        if as_json:
            emit_json(
                {
                    "ok": True,
                    "state": mask(loaded.state_url),
                    "entities": entities,
                    "failed_writes": failed,
                    "workers": workers,
                    "waiting_writes": waiting,
                    "held_records": held,
                }
            )
            return
        _print_status(loaded.state_url, entities, failed, names)
        _print_workers(workers)
        _print_waiting(waiting, names)
        _print_held(held)


_Collected = tuple[
    list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], dict[str, "RecordName"]
]


def _collect(loaded: LoadedConfig) -> _Collected:
    """Read the status without the migration machinery; a store that does not exist yet or lacks a
    table is created or upgraded first (as every other command does)."""
    from einklang.cli._common import store_for
    from einklang.store import reports

    engine = reports.reader_engine(loaded.state_url)
    if engine is not None:
        try:
            return _read(engine, loaded)
        except reports.NotReady:
            pass
        finally:  # closed before the store is created or upgraded (SQLite: no second connection in the way)
            engine.dispose()
    store = store_for(loaded)
    try:
        return _read(store.engine, loaded)
    finally:
        store.close()


def _read(engine: Engine, loaded: LoadedConfig) -> _Collected:
    from einklang.store import reports

    with engine.connect() as conn:
        entities = [reports.entity_status(conn, entity, loaded.systems_of(entity)) for entity in loaded.model.entities]
        failed = reports.failed_writes(conn)
        waiting = reports.waiting_writes(conn)
        held = reports.held_records(conn)
        names = reports.record_names(conn, (f["golden_id"] for f in failed + waiting), keys_of(loaded))
    return entities, failed, waiting, held, names


def keys_of(loaded: LoadedConfig) -> dict[str, tuple[str, ...]]:
    """Entity -> its key fields (customer number ...), which name records for people."""
    return {entity: loaded.entity_spec(entity).keys for entity in loaded.model.entities}


def _print_status(
    state_url: str, entities: list[dict[str, Any]], failed: list[dict[str, Any]], names: dict[str, RecordName]
) -> None:
    say(f"state store: {lit(state_url)}")
    say("")
    for e in entities:  # each table ends with an empty line
        conflicts = e["open_conflicts"]
        say(
            f"[bold]{lit(e['entity'])}[/]: {e['golden_records']} record(s), {conflicts} open conflict(s)"
            + (" (see: einklang conflicts)" if conflicts else "")
        )
        say(f"last run: {lit(run_text(e['last_run']))}")
        render_table(
            "",
            ["system", "linked", "writes waiting", "writes failed", "changes read up to"],
            [
                [s["system"], s["linked"], s["outbox_pending"], s["outbox_failed"], _cursor_text(s["cursor"])]
                for s in e["systems"]
            ],
        )
        for s in e["systems"]:
            if s["not_loaded"]:
                say(
                    f"  {lit(s['system'])}: configured, not loaded yet; the next `einklang sync` "
                    f"fills it (or `einklang load {lit(e['entity'])} --from SYSTEM --to {lit(s['system'])}`)"
                )
    if failed:
        render_table(
            "Isolated records: writes that failed for good (they block nothing else)",
            ["record", "write", "error"],
            [
                [
                    record_text(names.get(f["golden_id"]), f["golden_id"], f["system"], f["native_id"], sep="\n"),
                    f"{f['op']} in {f['system']}",
                    f["last_error"],
                ]
                for f in failed
            ],
        )


def _print_waiting(waiting: list[dict[str, Any]], names: dict[str, RecordName]) -> None:
    if not waiting:
        return
    render_table(
        "Writes waiting for a referenced record (sent as soon as it is there)",
        ["record", "write", "waiting for"],
        [
            [
                record_text(names.get(w["golden_id"]), w["golden_id"], w["system"], w["native_id"], sep="\n"),
                f"{w['op']} in {w['system']}",
                str(w["last_error"] or "").removeprefix("waiting for reference: "),
            ]
            for w in waiting
        ],
    )


def _print_held(held: list[dict[str, Any]]) -> None:
    if not held:
        return
    render_table(
        "Records held: a reference points to no record (fix them in their system; read again each sync)",
        ["record", "field", "why"],
        [[f"{h['entity']} {h['system']} {h['native_id']}", h["field"] or "", h["message"]] for h in held],
    )


def record_text(
    name: RecordName | None,
    golden_id: str | None,
    system: str | None = None,
    native_id: str | None = None,
    sep: str = " ",
) -> str:
    """A record as people know it: key field and name, then its ids in the systems (after ``sep``)."""
    label = name.label if name else (f"golden id {golden_id}" if golden_id else "")
    ids = name.ids if name else ""
    if native_id and system and f"{system} {native_id}" not in ids:
        ids = f"{system} {native_id}" + (f", {ids}" if ids else "")
    return f"{label}{sep}({ids})" if ids and label else label or ids


def run_text(run: dict[str, Any] | None) -> str:
    if not run:
        return "never"
    when = str(run.get("started_at") or "").replace("T", " ")
    return f"#{run['id']} {run['kind']} {run['status']}" + (f", {when}" if when else "")


def _cursor_text(value: Any, width: int = 40) -> str:
    if isinstance(value, dict):
        value = " ".join(str(v) for v in value.values() if v is not None)
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _workers(loaded: LoadedConfig) -> list[dict[str, Any]]:
    """Sync workers seen in the last hour with their leases (only a PostgreSQL store has them)."""
    if not loaded.state_url.startswith("postgresql"):
        return []
    import sqlalchemy as sa

    from einklang.store import leases, reports
    from einklang.store.state import utcnow

    engine = reports.reader_engine(loaded.state_url)
    if engine is None:
        return []
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("sync_workers"):
                return []
            rows = leases.list_workers(conn)
    finally:
        engine.dispose()
    now = utcnow()
    return [
        {
            "worker": row.id,
            "host": row.host,
            "pid": row.pid,
            "state": "stopped"
            if row.stopped_at
            else ("alive" if (now - row.heartbeat_at).total_seconds() < 60 else "silent"),
            "heartbeat_seconds_ago": round((now - row.heartbeat_at).total_seconds(), 1),
            "cycles": row.cycles,
            "leases": [
                {"entity": lease.entity, "partition": lease.part, "label": lease.label, "token": lease.token}
                for lease in row.leases
            ],
        }
        for row in rows
    ]


def _print_workers(workers: list[dict[str, Any]]) -> None:
    if not workers:
        return
    render_table(
        "Sync workers (last hour)",
        ["worker", "state", "heartbeat", "cycles", "leases (fencing token)"],
        [
            [
                f"{w['host']} pid {w['pid']}",
                w["state"],
                f"{w['heartbeat_seconds_ago']:g} s ago",
                w["cycles"],
                ", ".join(f"{lease['label']} ({lease['token']})" for lease in w["leases"]) or "none",
            ]
            for w in workers
        ],
    )
