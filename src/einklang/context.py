"""One resolved context per entity, built once from the config.

The sync engine, the initial load and the importer all need the same things about an entity:
its canonical schema, the mapping of each system, the merge policy, the link keys and the
fuzzy-matching settings. :func:`entity_context` builds them once per config and entity.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from einklang.config import ConfigError, LoadedConfig
from einklang.config_models import EntityConfig, MatchConfig, SyncConfig
from einklang.mapping import EntityMapping
from einklang.model import EntitySpec
from einklang.sync.policies import EntityPolicy
from einklang.sync.settings import entity_policy


@dataclass(frozen=True)
class EntityContext:
    name: str
    spec: EntitySpec
    mappings: dict[str, EntityMapping]  # system -> mapping, in the config's order
    policy: EntityPolicy
    keys: tuple[str, ...]  # exact link keys, tried in order
    match: MatchConfig | None  # fuzzy matching after the keys, if configured
    sync: SyncConfig
    default_region: str  # for phone numbers without a country code
    config_path: str | None = field(default=None, repr=False)

    @property
    def systems(self) -> list[str]:
        return list(self.mappings)

    def mapping(self, system: str) -> EntityMapping:
        try:
            return self.mappings[system]
        except KeyError:
            raise ConfigError(f"entity {self.name!r} is not mapped in system {system!r}") from None

    def creates_in(self, system: str) -> bool:
        """Whether new records of this entity are created in ``system`` (``sync.create_in``)."""
        return self.sync.create_in is None or system in self.sync.create_in


def _build(config: LoadedConfig, name: str) -> EntityContext:
    entity: EntityConfig = config.entity(name)
    return EntityContext(
        name=name,
        spec=entity.spec(name),
        mappings={system: config.mapping(name, system) for system in entity.systems},
        policy=entity_policy(entity.sync),
        keys=tuple(entity.keys),
        match=entity.match,
        sync=entity.sync,
        default_region=config.model.default_region,
        config_path=str(config.path) if config.path else None,
    )


_CACHE_ATTRIBUTE = "_einklang_entity_contexts"


def entity_context(config: LoadedConfig, name: str) -> EntityContext:
    """The context of entity ``name``, built on first use and kept with the config."""
    cache: dict[str, EntityContext] | None = config.__dict__.get(_CACHE_ATTRIBUTE)
    if cache is None:
        cache = {}
        config.__dict__[_CACHE_ATTRIBUTE] = cache
    if name not in cache:
        cache[name] = _build(config, name)
    return cache[name]
