"""The in-memory connector passes the shared contract suite, like every other connector."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from einklang.connectors.base import load_connector_class
from einklang.testing.contract import BackDoor, ConnectorContract
from einklang.testing.memory import MemoryConnector, MemorySystem


class MemoryBackDoor(BackDoor):
    """Edits the MemorySystem directly, as a user of "the CRM" would."""

    def __init__(self, system: MemorySystem, entity: str) -> None:
        self.system = system
        self.entity = entity

    def insert(self, fields: Mapping[str, Any]) -> str:
        return self.system.insert(self.entity, fields)

    def update(self, native_id: str, fields: Mapping[str, Any]) -> None:
        self.system.edit(self.entity, native_id, fields)

    def delete(self, native_id: str) -> None:
        self.system.remove(self.entity, native_id)

    def read(self, native_id: str) -> dict[str, Any] | None:
        return self.system.records(self.entity).get(native_id)


class TestMemoryContract(ConnectorContract):
    @pytest.fixture
    def system(self) -> MemorySystem:
        return MemorySystem("contract")

    @pytest.fixture
    def connector(self, system: MemorySystem) -> Iterator[MemoryConnector]:  # type: ignore[override]
        with MemoryConnector("crm", {"store": system}, {self.entity: {"page_size": self.page_size}}) as connector:
            yield connector

    @pytest.fixture
    def backdoor(self, system: MemorySystem) -> BackDoor:
        return MemoryBackDoor(system, self.entity)


def test_is_registered_as_the_memory_entry_point() -> None:
    assert load_connector_class("memory") is MemoryConnector


def test_archive_follows_the_archive_rule_and_refuses_without_one() -> None:
    from einklang.connectors.base import RecordRejected

    system = MemorySystem("archive")
    rule = {"column": "active", "value": False}
    archiving = MemoryConnector("crm", {"store": system}, {"contact": {"archive": rule}})
    created = archiving.create("contact", [{"name": "Old Customer", "active": True}])[0]
    archiving.archive("contact", created.native_id, created.version)
    assert system.records("contact")[created.native_id]["active"] is False
    plain = MemoryConnector("crm", {"store": system}, {"contact": {}})
    with pytest.raises(RecordRejected, match="no archive option"):
        plain.archive("contact", created.native_id, None)
