"""The template connector against a real (tiny) REST server, through einklang's contract suite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from einklang_rest_template import RestConnector
from rest_server import RestStore, running_rest_server

from einklang.testing.contract import BackDoor, ConnectorContract


class RestBackDoor(BackDoor):
    def __init__(self, store: RestStore, resource: str) -> None:
        self.store = store
        self.resource = resource

    def insert(self, fields: Mapping[str, Any]) -> str:
        return self.store.insert(self.resource, fields)

    def update(self, native_id: str, fields: Mapping[str, Any]) -> None:
        self.store.update(self.resource, native_id, fields)

    def delete(self, native_id: str) -> None:
        self.store.delete(self.resource, native_id)

    def read(self, native_id: str) -> dict[str, Any] | None:
        found = self.store.record(self.resource, native_id)
        return found["fields"] if found else None


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, RestStore]]:
    with running_rest_server() as running:
        yield running


class TestRestTemplateContract(ConnectorContract):
    @pytest.fixture
    def resource(self) -> str:
        # One server for all tests; each test gets an empty resource of its own.
        return f"people-{uuid.uuid4().hex[:8]}"

    @pytest.fixture
    def connector(self, server: tuple[str, RestStore], resource: str) -> Iterator[RestConnector]:  # type: ignore[override]
        url, _ = server
        settings = {"url": url, "token": "template-token", "page_size": self.page_size, "retry_attempts": 2}
        with RestConnector("api", settings, {self.entity: {"resource": resource}}) as connector:
            yield connector

    @pytest.fixture
    def backdoor(self, server: tuple[str, RestStore], resource: str) -> BackDoor:
        return RestBackDoor(server[1], resource)
