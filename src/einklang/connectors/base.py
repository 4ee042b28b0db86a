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
import difflib
import functools
import importlib.metadata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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


@dataclass(frozen=True)
class RecordUpdate:
    """One conditional update of a batch: write ``patch`` if the record is still at ``expected_version``."""

    native_id: str
    patch: Mapping[str, Any]
    expected_version: str | None


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


# what :meth:`Connector.update_many` yields per record: the record written, or why it was not
UpdateOutcome = NativeRecord | StaleVersion | RecordNotFound | RecordRejected


class ConfigurationError(ConnectorError):
    """The connector settings do not fit the system (unknown table, column, model ...)."""


@dataclass(frozen=True)
class MissingField:
    """A mapped native field the system does not have, and the closest one it does have."""

    entity: str
    canonical: str  # the canonical field whose mapping names the column
    column: str  # the native column / field the mapping names
    suggestion: str | None = None

    def __str__(self) -> str:
        hint = f" (did you mean {self.suggestion!r}?)" if self.suggestion else ""
        return (
            f"entity {self.entity!r}: canonical field {self.canonical!r} is mapped to native field "
            f"{self.column!r}, which does not exist{hint}"
        )


class UnknownNativeField(ConfigurationError):
    """A mapping names native fields the system does not have (checked before reading or writing).

    Reading such a field would yield nothing for every record, and a nothing taken for "empty"
    wipes the field in every other system; so the system is refused until the mapping is fixed.
    """

    def __init__(self, missing: Sequence[MissingField], known: Iterable[str], *, system: str) -> None:
        self.missing = list(missing)
        self.known = sorted(known)
        listed = "; ".join(str(item) for item in self.missing)
        super().__init__(f"{listed}; known fields: {', '.join(self.known)}", system=system)


def missing_fields(entity: str, expected: Iterable[tuple[str, str]], known: Iterable[str]) -> list[MissingField]:
    """The (canonical field, native column) pairs of ``expected`` whose column is not ``known``."""
    known_set = set(known)
    by_fold = {name.casefold(): name for name in known_set}
    missing: list[MissingField] = []
    for canonical, column in expected:
        if column in known_set:
            continue
        suggestion = by_fold.get(column.casefold())
        if suggestion is None:
            close = difflib.get_close_matches(column, sorted(known_set), n=1, cutoff=0.5)
            suggestion = close[0] if close else None
        missing.append(MissingField(entity, canonical, column, suggestion))
    return missing


class InvalidSettings(ConfigurationError):
    """Settings or entity options refused by the connector's models; ``problems`` says which keys."""

    def __init__(self, refused: SettingsRefused, *, system: str, entity: str | None = None) -> None:
        prefix = f"entity {entity!r}: " if entity is not None else ""
        super().__init__(prefix + str(refused), system=system)
        self.problems = refused.problems
        self.entity = entity


# The operations that read or write records of one entity (first argument after self). Before the
# first of them runs for an entity, the fields its mapping names are checked against the system's
# own (``Connector.expect_fields``); ``check`` checks every entity's.
_ENTITY_OPERATIONS = (
    "read_all",
    "read_changes",
    "get",
    "find",
    "count",
    "current_cursor",
    "create",
    "update",
    "update_many",
    "delete",
    "archive",
)


def _checked_entity_operation(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def operation(self: Connector, entity: str, *args: Any, **kwargs: Any) -> Any:
        self.verify_fields(entity)
        return method(self, entity, *args, **kwargs)

    operation.__einklang_checked__ = True  # type: ignore[attr-defined]
    return operation


def _checked_check(method: Callable[..., str]) -> Callable[..., str]:
    @functools.wraps(method)
    def check(self: Connector) -> str:
        description = method(self)
        self.verify_fields()
        return description

    check.__einklang_checked__ = True  # type: ignore[attr-defined]
    return check


class Connector(abc.ABC):
    """A system einklang reads from and writes to.

    ``settings`` are the system's settings, ``entities`` maps entity name -> the connector's
    options for it (table, id column, ...), both raw mappings or already the declared models.
    ``fields`` passed to create/update are native column names with native values.

    Mapped fields: whoever opens a connector for a mapping (``einklang.systems.open_connector``)
    tells it which native fields the mapping reads and writes (``expect_fields``). Before the
    first read or write of an entity, and in ``check()``, they are compared with the fields the
    system has (``native_fields``); a field it lacks is an ``UnknownNativeField`` error for that
    system, never a column of empty values. Subclasses get this without doing anything: their
    entity operations are wrapped when the class is defined.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in _ENTITY_OPERATIONS:
            method = cls.__dict__.get(name)
            if callable(method) and not getattr(method, "__einklang_checked__", False):
                setattr(cls, name, _checked_entity_operation(method))
        check = cls.__dict__.get("check")
        if callable(check) and not getattr(check, "__einklang_checked__", False):
            cls.check = _checked_check(check)  # type: ignore[method-assign]

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
        self._expected_fields: dict[str, tuple[tuple[str, str], ...]] = {}
        self._verified_fields: set[str] = set()
        self._verifying_fields: set[str] = set()

    # --- description -------------------------------------------------------------------
    @abc.abstractmethod
    def capabilities(self, entity: str) -> Capabilities: ...

    def entities(self) -> list[str]:
        return list(self.entity_settings)

    def native_fields(self, entity: str) -> set[str] | None:
        """The native field names records of ``entity`` can carry; None if the system cannot tell.

        Connectors with a schema say it here (a table's columns, a model's fields, the fields an
        API endpoint returns, the vCard properties read). It may connect, and is asked once per
        connector and entity. None (the default, for schemaless systems) skips the check.
        """
        return None

    def expect_fields(self, entity: str, fields: Iterable[tuple[str, str]]) -> None:
        """Declare the ``(canonical field, native field)`` pairs the mapping of ``entity`` uses."""
        self._expected_fields[entity] = tuple(fields)
        self._verified_fields.discard(entity)

    def verify_fields(self, entity: str | None = None) -> None:
        """Compare the expected fields of ``entity`` (default: all) with ``native_fields``.

        Raises ``UnknownNativeField`` naming the entity, the canonical field, the missing native
        field and the closest existing one. A success is remembered for the connector's life.
        """
        expected = getattr(self, "_expected_fields", None)
        if not expected:
            return
        names = list(expected) if entity is None else [entity]
        for name in names:
            if name not in expected or name in self._verified_fields or name in self._verifying_fields:
                continue
            self._verifying_fields.add(name)
            try:
                known = self.native_fields(name)
            finally:
                self._verifying_fields.discard(name)
            if known is not None:
                missing = missing_fields(name, expected[name], known)
                if missing:
                    raise UnknownNativeField(missing, known, system=self.system)
            self._verified_fields.add(name)

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

    def update_many(self, entity: str, updates: Sequence[RecordUpdate]) -> Iterator[UpdateOutcome]:
        """Many conditional updates; yields one outcome per update, in order, as each is done.

        An outcome is the record as written, or the refusal of that one record (``StaleVersion``,
        ``RecordNotFound``, ``RecordRejected``) as a value: a stale or refused record never stops
        the others. An outage raises (``SystemUnavailable``); the outcomes yielded before it were
        written. The version check stays per record. This default sends one ``update`` after the
        other; connectors that can write many records in one round trip override it.
        """
        for item in updates:
            try:
                yield self.update(entity, item.native_id, item.patch, item.expected_version)
            except (StaleVersion, RecordNotFound, RecordRejected) as refused:
                yield refused

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
