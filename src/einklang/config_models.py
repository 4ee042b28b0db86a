"""The models of einklang.yaml (pydantic): what a valid configuration looks like.

:mod:`einklang.config` reads the file, resolves ``${VAR}`` secrets, validates the document
against :class:`EinklangConfig` and reports every problem with file:line.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from einklang.mapping import FieldMap, MapKind, SplitStrategy
from einklang.model import EntitySpec, FieldSpec, FieldType


class FieldMapConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    column: str | None = None
    join: list[str] | None = None
    sep: str = " "
    split: SplitStrategy = SplitStrategy.FIRST_COLUMN
    name_part: str | None = None  # column holding a full person name
    part: Literal["first", "last"] | None = None
    values: dict[str, str] = Field(default_factory=dict)
    transform: list[str] = Field(default_factory=list)
    read_only: bool = False
    ref_value: str | None = None  # a ref field held as a value of the referenced record (its name)

    @model_validator(mode="after")
    def _one_source(self) -> FieldMapConfig:
        sources = [s for s in (self.column, self.join, self.name_part) if s]
        if len(sources) != 1:
            raise ValueError("give exactly one of column, join or name_part")
        if self.name_part and not self.part:
            raise ValueError("name_part needs part: first or last")
        return self

    def to_field_map(self, canonical: str) -> FieldMap:
        if self.join:
            return FieldMap(
                canonical,
                tuple(self.join),
                MapKind.JOIN,
                sep=self.sep,
                split=self.split,
                values=self.values,
                transforms=tuple(self.transform),
                read_only=self.read_only,
            )
        if self.name_part:
            return FieldMap(
                canonical,
                (self.name_part,),
                MapKind.NAME_PART,
                part=self.part or "",
                transforms=tuple(self.transform),
                read_only=self.read_only,
            )
        assert self.column is not None
        return FieldMap(
            canonical,
            (self.column,),
            values=self.values,
            transforms=tuple(self.transform),
            read_only=self.read_only,
            ref_value=self.ref_value,
        )


class EntityBindingConfig(BaseModel):
    """How one system holds one entity. Keys other than ``map`` belong to the connector."""

    model_config = ConfigDict(extra="allow")

    map: dict[str, str | FieldMapConfig]

    def connector_options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def field_maps(self) -> list[FieldMap]:
        rules = []
        for canonical, spec in self.map.items():
            rule = FieldMapConfig(column=spec) if isinstance(spec, str) else spec
            rules.append(rule.to_field_map(canonical))
        return rules


class FieldTypeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: FieldType = FieldType.STR
    values: list[str] = Field(default_factory=list)
    required: bool = False
    entity: str | None = None  # for type ref: the entity referred to
    # for type ref: a set of referenced records (many-to-many; docs/references.md)
    many: bool = False

    @model_validator(mode="after")
    def _reference_target(self) -> FieldTypeConfig:
        if self.type is FieldType.REF and not self.entity:
            raise ValueError("a field of type ref names the entity it refers to: {type: ref, entity: NAME}")
        if self.entity and self.type is not FieldType.REF:
            raise ValueError("entity: is for fields of type ref")
        if self.many and self.type is not FieldType.REF:
            raise ValueError("many: is for fields of type ref")
        return self


ConflictPolicy = Literal["manual", "newest"] | dict[Literal["leader"], str]


class FieldSyncConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner: str | list[str] | None = None
    on_violation: Literal["report", "revert"] = "report"
    conflicts: ConflictPolicy | None = None
    leader: str | None = None  # shorthand for conflicts: {leader: X}
    empty_wins: bool = False  # may an empty leader value wipe a filled one?

    def owners(self) -> list[str]:
        if self.owner is None:
            return []
        return [self.owner] if isinstance(self.owner, str) else list(self.owner)


class SyncConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conflicts: ConflictPolicy = "manual"
    empty_wins: bool = False
    fields: dict[str, FieldSyncConfig] = Field(default_factory=dict)
    deletes: Literal["ignore", "propagate", "archive", "manual"] = "ignore"
    delete_guard: float = Field(0.05, ge=0, le=1)
    create_in: list[str] | None = None  # systems that receive new records (default: all)
    interval: float = Field(60.0, gt=0)  # seconds between cycles of this entity under `einklang serve`


class MatchConfig(BaseModel):
    """Fuzzy matching for an entity: which matcher spec, and its score thresholds."""

    model_config = ConfigDict(extra="forbid")

    spec: Literal["company", "contact", "person"]
    duplicate: float = Field(default=0.99, ge=0, le=1)  # from here a match is sure: linked
    possible: float = Field(default=0.5, ge=0, le=1)  # from here a person must decide

    @model_validator(mode="after")
    def _ordered(self) -> MatchConfig:
        if self.possible > self.duplicate:
            raise ValueError("possible must not be greater than duplicate")
        return self


class EntityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[str] = Field(default_factory=list)
    match: MatchConfig | None = None
    fields: dict[str, FieldType | FieldTypeConfig]
    systems: dict[str, EntityBindingConfig]
    sync: SyncConfig = Field(default_factory=lambda: SyncConfig())

    @model_validator(mode="after")
    def _references_exist(self) -> EntityConfig:
        for key in self.keys:
            if key not in self.fields:
                raise ValueError(f"key {key!r} is not a field of this entity")
        for system, binding in self.systems.items():
            for canonical, rule in binding.map.items():
                if canonical not in self.fields:
                    raise ValueError(f"systems.{system}.map: {canonical!r} is not a field of this entity")
                declared = self.fields[canonical]
                is_ref = isinstance(declared, FieldTypeConfig) and declared.type is FieldType.REF
                if isinstance(rule, FieldMapConfig) and rule.ref_value and not is_ref:
                    raise ValueError(f"systems.{system}.map.{canonical}: ref_value is for fields of type ref")
                if is_ref and isinstance(rule, FieldMapConfig) and not rule.column:
                    raise ValueError(f"systems.{system}.map.{canonical}: a ref field maps one column")
        for name in self.sync.fields:
            if name not in self.fields:
                raise ValueError(f"sync.fields: {name!r} is not a field of this entity")
        return self

    def spec(self, name: str) -> EntitySpec:
        fields: dict[str, FieldSpec] = {}
        for field_name, declared in self.fields.items():
            if isinstance(declared, FieldTypeConfig):
                fields[field_name] = FieldSpec(
                    field_name, declared.type, tuple(declared.values), declared.required, declared.entity, declared.many
                )
            else:
                fields[field_name] = FieldSpec(field_name, declared)
        return EntitySpec(name, fields, tuple(self.keys))


class SystemConfig(BaseModel):
    """``connector`` names the plug-in; every other key is a connection setting for it."""

    model_config = ConfigDict(extra="allow")

    connector: str

    def settings(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class EmailRecipientConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str
    language: Literal["de", "en"] = "de"


class EmailConfig(BaseModel):
    """Digests by mail; the password comes from ``${VAR}`` (environment or secrets file)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    smtp_host: str
    smtp_port: int = Field(587, gt=0, lt=65536)
    starttls: bool = True
    user: str | None = None
    password: str | None = None
    sender: str = Field(alias="from")
    to: list[EmailRecipientConfig] = Field(default_factory=list)
    # also every active admin and steward of the web app with an e-mail address, in their language
    to_users: bool = False
    timeout: float = Field(30.0, gt=0)  # seconds for the SMTP conversation

    @model_validator(mode="after")
    def _someone(self) -> EmailConfig:
        if not self.to and not self.to_users:
            raise ValueError("name recipients in `to`, or set `to_users: true`")
        return self


class WebhookConfig(BaseModel):
    """Digests as a JSON POST; with ``secret`` the body is signed (HMAC-SHA256)."""

    model_config = ConfigDict(extra="forbid")

    url: str
    secret: str | None = None
    timeout: float = Field(10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("the webhook url must start with https:// (or http://)")
        return value


class NotificationsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailConfig | None = None
    webhook: WebhookConfig | None = None
    min_interval: float = Field(900.0, ge=0)  # seconds between two digests on one channel
    unreachable_after: float = Field(600.0, ge=0)  # a system down this long is reported
    check_every: float = Field(30.0, gt=0)  # seconds between looks for new events


class ServiceConfig(BaseModel):
    """``einklang serve``: where it listens, who may read /metrics, who hears of new work."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, lt=65536)
    metrics_token: str | None = None  # /metrics needs "Authorization: Bearer <token>" when set
    notifications: NotificationsConfig = Field(default_factory=lambda: NotificationsConfig())


class DedupeConfig(BaseModel):
    """Where ``einklang dedupe`` runs: DuckDB on this machine, or Spark (local or a cluster)."""

    model_config = ConfigDict(extra="forbid")

    engine: Literal["duckdb", "spark"] = "duckdb"
    spark_master: str = "local[2]"  # local[N] or spark://host:7077
    # Spark settings for the session (spark-submit's --conf): on a cluster at least
    # spark.pyspark.python, a Python with RapidFuzz, pandas and PyArrow on every node
    spark_config: dict[str, str] = Field(default_factory=dict)
    memory_limit: str | None = "2GB"  # DuckDB's memory_limit; beyond it DuckDB spills to disk (None: 80% of RAM)
    # A blocking key (a switchboard number, a name in a city) shared by more records pairs none of them
    block_cap: int | None = Field(1000, ge=2)


class EinklangConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: str | None = None
    # einklang keeps its tables in a database of its own unless this says it may share one
    state_shared_database: bool = False
    secrets_file: str | None = None
    default_region: str = "DE"
    systems: dict[str, SystemConfig] = Field(default_factory=dict)
    entities: dict[str, EntityConfig] = Field(default_factory=dict)
    service: ServiceConfig = Field(default_factory=lambda: ServiceConfig())

    dedupe: DedupeConfig = Field(default_factory=lambda: DedupeConfig())

    @field_validator("default_region")
    @classmethod
    def _region_upper(cls, value: str) -> str:
        if len(value) != 2 or not value.isalpha():
            raise ValueError("default_region is an ISO 3166 alpha-2 code such as DE")
        return value.upper()

    @model_validator(mode="after")
    def _systems_exist(self) -> EinklangConfig:
        for entity_name, entity in self.entities.items():
            for system in entity.systems:
                if system not in self.systems:
                    raise ValueError(f"entities.{entity_name}.systems: unknown system {system!r}")
        return self

    def references(self) -> dict[str, dict[str, str]]:
        """entity -> {ref field -> the entity it refers to}."""
        return {
            name: {
                field: declared.entity
                for field, declared in entity.fields.items()
                if isinstance(declared, FieldTypeConfig) and declared.entity
            }
            for name, entity in self.entities.items()
        }

    def entity_order(self, names: list[str] | None = None) -> list[str]:
        """``names`` (default: all entities) with each after the entities it refers to.

        Referenced records are created (and linked) first, so that a record referring to them
        finds them in the same cycle. Otherwise the config's order is kept. The config refuses
        cycles (einklang.config), so the order always exists.
        """
        wanted = list(names if names is not None else self.entities)
        refs = self.references()
        ordered: list[str] = []
        placed: set[str] = set()

        def place(name: str, path: tuple[str, ...]) -> None:
            if name in placed or name in path:
                return
            for target in refs.get(name, {}).values():
                if target in wanted:
                    place(target, (*path, name))
            placed.add(name)
            ordered.append(name)

        for name in wanted:
            place(name, ())
        return ordered
