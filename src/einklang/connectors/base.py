"""The connector contract: what every system plug-in offers the engine.

A connector speaks in *native* flat records ``(native_id, version, fields)``; mapping to the
canonical model happens outside it. Connectors are registered under the entry point group
``einklang.connectors`` and constructed with the system's name, its settings and, per entity,
its options from the config. Each connector class declares pydantic models for both
(``settings_model``, ``entity_settings_model``); the config loader checks a whole config file
against them before anything connects, and the constructor validates again, so a connector built
directly (in a test, a script) gets the same checks.

Loading a connector class must stay cheap: the CLI loads every configured one at start-up.
"""

from __future__ import annotations

import abc
import importlib.metadata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel

from einklang.connectors.settings import ConnectorSettings, NoOptions, SettingsRefused, validate_settings

JsonValue = Any  # a value that survives json.dumps; cursors are of this type

ENTRY_POINT_GROUP = "einklang.connectors"


class ChangeDetection(StrEnum):
    TIMESTAMP = "timestamp"  # a modification-time column / field, read with overlap
    ROW_VERSION = "row_version"  # a monotonically growing version number
    FEED = "feed"  # a native change feed or sync token
    SNAPSHOT = "snapshot"  # full scan compared with hashes of the previous scan


@dataclass(frozen=True)
class Capabilities:
    change_detection: ChangeDetection
    reports_deletions: bool
    conditional_writes: bool
    batch_size: int = 500
    correlation_field: str | None = None  # native field einklang may write its golden id into
    # Native field holding the system's own modification time of a record, if the records carry
    # one: the engine reads it as "when did this change happen" (for the ``newest`` policy).
    modified_field: str | None = None


@dataclass(frozen=True)
class NativeRecord:
    native_id: str
    version: str | None
    fields: Mapping[str, Any]


@dataclass
class ChangePage:
    """One page of changes; ``cursor`` is where reading resumes once this page is stored."""

    records: list[NativeRecord] = field(default_factory=list)
    deleted_ids: list[str] = field(default_factory=list)
    cursor: JsonValue = None


class SnapshotStore(abc.ABC):
    """Hashes of the previous full scan, kept by the state store for SNAPSHOT connectors."""

    @abc.abstractmethod
    def hashes(self, ids: Sequence[str]) -> dict[str, str]: ...

    @abc.abstractmethod
    def known_ids(self) -> Iterator[str]: ...


class ConnectorError(Exception):
    """Base of every error a connector raises; ``system`` and ``record_id`` say where."""

    transient = False

    def __init__(self, message: str, *, system: str = "", record_id: str | None = None) -> None:
        super().__init__(message)
        self.system = system
        self.record_id = record_id

    def __str__(self) -> str:
        where = self.system + (f" record {self.record_id}" if self.record_id else "")
        return f"{where}: {super().__str__()}" if where else super().__str__()


class SystemUnavailable(ConnectorError):
    """The system cannot be reached now; try again later."""

    transient = True


class StaleVersion(ConnectorError):
    """The record changed since the version the write was based on."""


class RecordNotFound(ConnectorError):
    pass


class RecordRejected(ConnectorError):
    """The system refused the record (validation); retrying the same write will not help."""


class ConfigurationError(ConnectorError):
    """The connector settings do not fit the system (unknown table, column, model ...)."""


class InvalidSettings(ConfigurationError):
    """Settings or entity options refused by the connector's models; ``problems`` says which keys."""

    def __init__(self, refused: SettingsRefused, *, system: str, entity: str | None = None) -> None:
        prefix = f"entity {entity!r}: " if entity is not None else ""
        super().__init__(prefix + str(refused), system=system)
        self.problems = refused.problems
        self.entity = entity


class Connector(abc.ABC):
    """A system einklang reads from and writes to.

    ``settings`` are the system's settings, ``entities`` maps entity name -> the connector's
    options for it (table, id column, ...), both raw mappings or already the declared models.
    ``fields`` passed to create/update are native column names with native values.
    """

    settings_model: ClassVar[type[BaseModel]] = ConnectorSettings
    entity_settings_model: ClassVar[type[BaseModel]] = NoOptions
    # Subclasses narrow these two to their own models (``settings: SqlSettings`` ...).
    settings: BaseModel
    entity_settings: Mapping[str, BaseModel]

    def __init__(
        self,
        system: str,
        settings: Mapping[str, Any] | BaseModel,
        entities: Mapping[str, Mapping[str, Any] | BaseModel],
    ) -> None:
        self.system = system
        try:
            self.settings = validate_settings(self.settings_model, settings, what="setting")
        except SettingsRefused as refused:
            raise InvalidSettings(refused, system=system) from None
        entity_settings: dict[str, BaseModel] = {}
        for entity, options in entities.items():
            try:
                entity_settings[entity] = validate_settings(self.entity_settings_model, options, what="option")
            except SettingsRefused as refused:
                raise InvalidSettings(refused, system=system, entity=entity) from None
        self.entity_settings = entity_settings

    # --- description -------------------------------------------------------------------
    @abc.abstractmethod
    def capabilities(self, entity: str) -> Capabilities: ...

    def entities(self) -> list[str]:
        return list(self.entity_settings)

    # --- health ------------------------------------------------------------------------
    @abc.abstractmethod
    def check(self) -> str:
        """Connect and verify the configured entities exist; return a short description."""

    # --- reading -----------------------------------------------------------------------
    @abc.abstractmethod
    def read_all(self, entity: str, page_size: int = 1000) -> Iterator[list[NativeRecord]]:
        """Every record, in pages, in a stable order."""

    @abc.abstractmethod
    def read_changes(
        self, entity: str, cursor: JsonValue, snapshots: SnapshotStore | None = None
    ) -> Iterator[ChangePage]:
        """Records created/changed (and, where reported, deleted) since ``cursor``.

        ``cursor`` None means "from the beginning". Each page carries the cursor from which to
        resume after it; the engine stores a page before it advances the cursor. Reading may
        return records already seen (overlap); it must never miss one.
        """

    @abc.abstractmethod
    def get(self, entity: str, native_ids: Sequence[str]) -> dict[str, NativeRecord]:
        """The current state of the given records; missing ids are absent from the result."""

    @abc.abstractmethod
    def find(self, entity: str, criteria: Mapping[str, Any], limit: int = 10) -> list[NativeRecord]:
        """Records whose native fields equal all of ``criteria`` (for linking by key)."""

    def count(self, entity: str) -> int | None:
        """The number of live records, if the system can tell cheaply (for progress and guards)."""
        return None

    def current_cursor(self, entity: str) -> JsonValue:
        """A cursor meaning "now": changes after this point are new (used after an initial load)."""
        last: JsonValue = None
        for page in self.read_changes(entity, None):
            last = page.cursor
        return last

    # --- writing -----------------------------------------------------------------------
    @abc.abstractmethod
    def create(self, entity: str, records: Sequence[Mapping[str, Any]]) -> list[NativeRecord]:
        """Create records in one batch; results in the same order as the input."""

    @abc.abstractmethod
    def update(
        self, entity: str, native_id: str, patch: Mapping[str, Any], expected_version: str | None
    ) -> NativeRecord:
        """Write only the fields in ``patch``; raise StaleVersion if the version moved on."""

    @abc.abstractmethod
    def delete(self, entity: str, native_id: str, expected_version: str | None) -> None: ...

    def archive(self, entity: str, native_id: str, expected_version: str | None) -> None:
        """Mark the record inactive instead of deleting it (the ``archive`` delete policy).

        Conditional on the version like ``update``; systems without a way to archive a record
        refuse, and the engine reports the planned archive as failed.
        """
        raise RecordRejected(
            "no archive option (archive: {column, value}) for this system; record left as it is",
            system=self.system,
        )

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def installed_connectors() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def load_connector_class(name: str) -> type[Connector]:
    available = installed_connectors()
    if name not in available:
        known = ", ".join(sorted(available)) or "none"
        raise ConfigurationError(f"unknown connector {name!r} (installed: {known})")
    loaded = available[name].load()
    if not (isinstance(loaded, type) and issubclass(loaded, Connector)):
        raise ConfigurationError(f"entry point {name!r} does not name a Connector class")
    return loaded


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
