"""A small world of memory systems, a state store and an engine, for the sync tests."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from einklang.config import LoadedConfig, parse_config
from einklang.store.state import StateStore, open_store
from einklang.sync.breaker import RetrySettings
from einklang.sync.engine import CycleReport, EngineOptions, SyncEngine
from einklang.testing.memory import MemoryConnector, MemorySystem

_unique = itertools.count()

NATIVE = {
    "erp": {"number": "kundennr", "name": "name1", "email": "mail", "phone": "telefon", "city": "ort"},
    "crm": {"number": "external_id", "name": "name", "email": "email", "phone": "phone", "city": "city"},
    "shop": {"number": "customer_no", "name": "company", "email": "e_mail", "phone": "tel", "city": "town"},
}


def config_text(systems: list[str], sync: str = "", correlation: bool = True, archive: bool = False) -> str:
    lines = ["systems:"]
    for system in systems:
        lines.append(f"  {system}: {{connector: memory}}")
    lines += [
        "entities:",
        "  customer:",
        "    keys: [number]",
        "    fields: {number: str, name: str, email: email, phone: phone, city: str}",
        "    systems:",
    ]
    for system in systems:
        native = NATIVE[system]
        mapping = ", ".join(f"{canonical}: {column}" for canonical, column in native.items())
        extra = ", correlation: einklang_id" if correlation and system != "erp" else ""
        if archive:
            extra += ", archive: {column: active, value: false}"
        lines.append(f"      {system}: {{map: {{{mapping}}}, changed: modified{extra}}}")
    if sync:
        lines.append("    sync:")
        lines += ["      " + line for line in sync.strip().splitlines()]
    return "\n".join(lines) + "\n"


class World:
    def __init__(self, tmp: Path, systems: list[str] | None = None, sync: str = "", **kwargs: Any) -> None:
        self.names = systems or ["erp", "crm"]
        self.config: LoadedConfig = parse_config(config_text(self.names, sync, **kwargs))
        self.url = f"sqlite:///{tmp / f'state{next(_unique)}.db'}"
        self.store: StateStore = open_store(self.url)
        self.systems = {name: MemorySystem(name) for name in self.names}
        self.fault: Any = None
        self.engine = self.new_engine()

    def connectors(self) -> dict[str, MemoryConnector]:
        return {
            name: MemoryConnector(name, {"store": self.systems[name]}, self.config.entities_of(name))
            for name in self.names
        }

    def new_engine(self, **options: Any) -> SyncEngine:
        retry = RetrySettings(attempts=2, initial_wait=0, max_wait=0, cooldown=0, max_cooldown=0)
        return SyncEngine(
            self.config,
            self.store,
            self.connectors(),
            options=EngineOptions(retry=retry, **options),
            fault=lambda point: self.fault(point) if self.fault else None,
            sleep=lambda _s: None,
        )

    def sync(self, dry_run: bool = False) -> CycleReport:
        return self.engine.run_cycle(dry_run=dry_run)

    def settle(self, rounds: int = 6) -> None:
        for _ in range(rounds):
            if not self.sync().busy:
                return
        raise AssertionError("sync did not settle")

    # --- editing in canonical terms --------------------------------------------------
    def add(self, system: str, **values: Any) -> str:
        native = {NATIVE[system][k]: v for k, v in values.items()}
        return self.systems[system].insert("customer", native, changed="modified")

    def edit(self, system: str, native_id: str, **values: Any) -> None:
        native = {NATIVE[system][k]: v for k, v in values.items()}
        self.systems[system].edit("customer", native_id, native, changed="modified")

    def remove(self, system: str, native_id: str) -> None:
        self.systems[system].remove("customer", native_id)

    def rows(self, system: str) -> dict[str, dict[str, Any]]:
        """native id -> canonical-named values."""
        reverse = {column: canonical for canonical, column in NATIVE[system].items()}
        return {
            nid: {reverse[k]: v for k, v in fields.items() if k in reverse}
            for nid, fields in self.systems[system].records("customer").items()
        }

    def by_number(self, system: str) -> dict[Any, dict[str, Any]]:
        return {row.get("number"): row for row in self.rows(system).values()}
