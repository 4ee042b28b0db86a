"""einklang.yaml: loading, ``${VAR}`` secrets, validation with file:line errors, masking.

Secrets never have to be in the file: ``${NAME}`` is replaced from the environment or from a
secrets file (``KEY=VALUE`` lines; ``secrets_file:`` in the config or ``EINKLANG_SECRETS_FILE``).
Every value that came from a secret, and every value under a secret-looking key, is
registered with ``SecretRegistry`` so that ``mask()`` hides it in all output.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from einklang import masking
from einklang.config_models import EinklangConfig, EntityConfig, FieldTypeConfig, SystemConfig
from einklang.connectors.base import ConfigurationError as ConnectorConfigurationError
from einklang.connectors.base import load_connector_class
from einklang.connectors.settings import SettingsRefused, validate_settings
from einklang.mapping import EntityMapping
from einklang.masking import MASK, SECRET_KEY_PATTERN, mask
from einklang.model import EntitySpec, NormalizeContext

CONFIG_ENV = "EINKLANG_CONFIG"
SECRETS_ENV = "EINKLANG_SECRETS_FILE"
DEFAULT_CONFIG_NAME = "einklang.yaml"
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# a config is a few kilobytes: these bounds stop a hostile file (an alias bomb, a huge document)
MAX_CONFIG_BYTES = 1_000_000
MAX_CONFIG_NODES = 100_000  # values after YAML aliases are expanded
MAX_CONFIG_DEPTH = 64  # nesting of mappings and lists (a config needs about 8)


class _ConfigLoader(yaml.SafeLoader):
    """PyYAML's safe loader, with scalars it cannot construct reported as YAML errors at their line.

    PyYAML raises plain ``ValueError``, ``KeyError`` ... for a scalar its resolver or a tag claims
    but its constructor cannot build (``2024-13-45``, an integer of more than 4300 digits,
    ``!!float abc``, ``!!bool maybe``); those would escape as tracebacks.
    """

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError, IndexError):
            what = node.tag.rsplit(":", 1)[-1]
            raise yaml.constructor.ConstructorError(
                None, None, f"this value cannot be read as {what}", node.start_mark
            ) from None


class ConfigError(Exception):
    """Configuration problems, each located as precisely as possible (file:line: key: message).

    ``problems`` holds every problem found (the first is this error's own); ``str()`` gives
    one line per problem.
    """

    def __init__(
        self,
        message: str,
        *,
        file: Path | None = None,
        line: int | None = None,
        key: str = "",
        more: Sequence[ConfigError] = (),
    ):
        self.file = file
        self.line = line
        self.key = key
        self.message = message
        self.more = list(more)
        super().__init__(str(self))

    @property
    def problems(self) -> list[ConfigError]:
        return [self, *self.more]

    def located(self) -> str:
        where = str(self.file) if self.file else "config"
        if self.line:
            where += f":{self.line}"
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} {self.message}"

    def __str__(self) -> str:
        return "\n".join(problem.located() for problem in self.problems)


def _raise_all(problems: list[ConfigError]) -> None:
    if problems:
        first, *more = problems
        raise ConfigError(first.message, file=first.file, line=first.line, key=first.key, more=more)


@dataclass
class LoadedConfig:
    """The validated config plus where it came from."""

    model: EinklangConfig
    path: Path | None

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    @property
    def state_url(self) -> str:
        if self.model.state:
            return resolve_sqlite_url(self.model.state, self.base_dir)
        return f"sqlite:///{(self.base_dir / 'einklang.db').resolve()}"

    @property
    def normalize_context(self) -> NormalizeContext:
        return NormalizeContext(default_region=self.model.default_region)

    def entity(self, name: str) -> EntityConfig:
        try:
            return self.model.entities[name]
        except KeyError:
            known = ", ".join(self.model.entities) or "none"
            raise ConfigError(f"unknown entity {name!r} (configured: {known})", file=self.path) from None

    def system(self, name: str) -> SystemConfig:
        try:
            return self.model.systems[name]
        except KeyError:
            known = ", ".join(self.model.systems) or "none"
            raise ConfigError(f"unknown system {name!r} (configured: {known})", file=self.path) from None

    def entity_spec(self, name: str) -> EntitySpec:
        return self.entity(name).spec(name)

    def mapping(self, entity: str, system: str) -> EntityMapping:
        config = self.entity(entity)
        if system not in config.systems:
            raise ConfigError(f"entity {entity!r} is not mapped in system {system!r}", file=self.path)
        return EntityMapping(config.spec(entity), config.systems[system].field_maps(), self.normalize_context)

    def systems_of(self, entity: str) -> list[str]:
        return list(self.entity(entity).systems)

    def entities_of(self, system: str) -> dict[str, dict[str, Any]]:
        return {
            name: entity.systems[system].connector_options()
            for name, entity in self.model.entities.items()
            if system in entity.systems
        }

    def masked(self) -> dict[str, Any]:
        masked: dict[str, Any] = _mask_tree(self.raw_resolved())
        return masked

    def raw_resolved(self) -> dict[str, Any]:
        data = self.model.model_dump(mode="json", exclude_none=True)
        data["state"] = self.state_url
        return data


def resolve_sqlite_url(url: str, base_dir: Path) -> str:
    """A relative ``sqlite:///file.db`` means next to the config file, not the current folder."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        relative = url.removeprefix("sqlite:///")
        if relative and not relative.startswith(":memory:") and not Path(relative).is_absolute():
            return f"sqlite:///{(base_dir / relative).resolve()}"
    return url


def _mask_tree(node: Any, key: str = "") -> Any:
    if isinstance(node, dict):
        return {k: _mask_tree(v, str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_mask_tree(v, key) for v in node]
    if isinstance(node, str):
        if SECRET_KEY_PATTERN.search(key) and node:
            return MASK
        return mask(node)
    return node


# --------------------------------------------------------------------------- loading


def find_config_path(explicit: str | Path | None) -> Path:
    if explicit:
        path = Path(explicit)
    elif os.environ.get(CONFIG_ENV):
        path = Path(os.environ[CONFIG_ENV])
    else:
        path = Path.cwd() / DEFAULT_CONFIG_NAME
    if not path.is_file():
        how = (
            "given with -c/--config"
            if explicit
            else (f"from ${CONFIG_ENV}" if os.environ.get(CONFIG_ENV) else "searched in the current folder")
        )
        raise ConfigError(f"config file not found ({how}); create one or run `einklang demo`", file=path)
    return path


def load_config(path: str | Path | None = None, *, environ: Mapping[str, str] | None = None) -> LoadedConfig:
    config_path = find_config_path(path)
    data = _read_bytes(config_path, "config file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the config as UTF-8", file=config_path, line=line
        ) from None
    return parse_config(text, config_path, environ=environ)


def parse_config(text: str, path: Path | None = None, *, environ: Mapping[str, str] | None = None) -> LoadedConfig:
    """Validate a config document; every problem found is reported at once (``ConfigError.problems``)."""
    env = dict(os.environ if environ is None else environ)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_CONFIG_BYTES:
        raise ConfigError(f"the config is larger than {MAX_CONFIG_BYTES:,} bytes; is this the right file?", file=path)
    loader: _ConfigLoader | None = None
    try:
        loader = _ConfigLoader(text)  # the reader refuses unprintable characters here already
        root_node = loader.get_single_node()
        _check_size(root_node, path)
        data = loader.construct_document(root_node) if root_node is not None else None
    except RecursionError:  # PyYAML composes recursively: nesting deeper than Python's stack
        raise ConfigError(
            f"the config is nested more than {MAX_CONFIG_DEPTH} levels deep; refused", file=path
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"invalid YAML: {problem}", file=path, line=line) from None
    except (ValueError, OverflowError):  # PyYAML's scanner, e.g. for the escape "\U00110000"
        raise ConfigError(
            "invalid YAML: a character or escape sequence that cannot be read",
            file=path,
            line=loader.get_mark().line + 1 if loader else None,
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the config must be a mapping of keys (state, systems, entities)", file=path, line=1)
    lines = _line_index(root_node)

    secrets_file = data.get("secrets_file") or env.get(SECRETS_ENV)
    if secrets_file:
        secrets_path = Path(str(secrets_file))
        if not secrets_path.is_absolute() and path is not None:
            secrets_path = path.parent / secrets_path
        env = {**_read_secrets_file(secrets_path), **env}

    problems: list[ConfigError] = []
    resolved = _interpolate(data, env, lines, path, (), problems)
    try:
        model = EinklangConfig.model_validate(resolved)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(str(part) for part in error["loc"])
            key_path, line = _locate(loc, lines)
            message = mask(error["msg"].removeprefix("Value error, "))
            problems.append(ConfigError(message, file=path, line=line, key=".".join(key_path) or ".".join(loc)))
        _raise_all(problems)
        raise AssertionError("unreachable") from None
    problems.extend(_check_references(model, lines, path))
    problems.extend(_check_connector_settings(model, lines, path))
    _raise_all(problems)
    return LoadedConfig(model=model, path=path)


def _check_size(root: yaml.Node | None, path: Path | None) -> None:
    """Refuse a document whose aliases expand to more values than any config has (an alias bomb)."""
    budget = MAX_CONFIG_NODES
    stack = [(root, 0)] if root is not None else []
    while stack:
        node, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise ConfigError(
                f"the config expands to more than {MAX_CONFIG_NODES:,} values (YAML aliases?); refused", file=path
            )
        if depth > MAX_CONFIG_DEPTH:  # the checks after this walk the document recursively
            raise ConfigError(
                f"the config is nested more than {MAX_CONFIG_DEPTH} levels deep; refused",
                file=path,
                line=node.start_mark.line + 1,
            )
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                stack.append((key_node, depth + 1))
                stack.append((value_node, depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, depth + 1) for item in node.value)


# connectors whose records hold list-valued fields, where a ``many: true`` reference can be mapped
LIST_VALUED_CONNECTORS = frozenset({"tryton", "memory"})


def _check_references(model: EinklangConfig, lines: dict[tuple[str, ...], int], path: Path | None) -> list[ConfigError]:
    """Each ``ref`` names a configured entity, ``ref_value`` one of its fields, and no references form a cycle."""
    problems: list[ConfigError] = []
    refs = model.references()

    def error(message: str, *key: str) -> None:
        _, line = _locate(key, lines)
        problems.append(ConfigError(message, file=path, line=line, key=".".join(key)))

    for entity_name, fields in refs.items():
        entity = model.entities[entity_name]
        for field_name, target in fields.items():
            if target not in model.entities:
                known = ", ".join(model.entities)
                error(
                    f"ref to unknown entity {target!r} (configured: {known})",
                    "entities", entity_name, "fields", field_name, "entity",
                )  # fmt: skip
                continue
            declared = entity.fields[field_name]
            many = isinstance(declared, FieldTypeConfig) and declared.many
            for system, binding in entity.systems.items():
                rule = binding.map.get(field_name)
                system_config = model.systems.get(system)
                connector = system_config.connector if system_config is not None else ""
                if many and rule is not None and connector not in LIST_VALUED_CONNECTORS:
                    error(
                        f"{field_name} is a many reference (a set), and connector {connector!r} of system "
                        f"{system!r} holds one value per field; map it only where the system keeps a list "
                        f"({', '.join(sorted(LIST_VALUED_CONNECTORS))}); see docs/references.md",
                        "entities", entity_name, "systems", system, "map", field_name,
                    )  # fmt: skip
                    continue
                ref_value = getattr(rule, "ref_value", None)
                if ref_value and ref_value not in model.entities[target].fields:
                    error(
                        f"ref_value {ref_value!r} is not a field of entity {target!r}",
                        "entities", entity_name, "systems", system, "map", field_name, "ref_value",
                    )  # fmt: skip
    cycle = _reference_cycle(refs)
    if cycle is not None:
        first, field_name = cycle[0]
        chain = " -> ".join(f"{entity}.{field}" for entity, field in cycle) + f" -> {first}"
        error(f"references form a cycle ({chain}); refused", "entities", first, "fields", field_name)
    return problems


def _reference_cycle(refs: Mapping[str, Mapping[str, str]]) -> list[tuple[str, str]] | None:
    """One cycle of references as (entity, field) steps, or None."""
    done: set[str] = set()

    def visit(entity: str, path: list[tuple[str, str]]) -> list[tuple[str, str]] | None:
        on_path = [step[0] for step in path]
        if entity in on_path:
            return path[on_path.index(entity) :]
        if entity in done:
            return None
        for field_name, target in refs.get(entity, {}).items():
            found = visit(target, [*path, (entity, field_name)])
            if found is not None:
                return found
        done.add(entity)
        return None

    for entity in refs:
        found = visit(entity, [])
        if found is not None:
            return found
    return None


def _check_connector_settings(
    model: EinklangConfig, lines: dict[tuple[str, ...], int], path: Path | None
) -> list[ConfigError]:
    """Each system's settings and entity options against the models its connector declares.

    Done at load time, so that a misspelt key anywhere is reported before anything connects.
    """
    problems: list[ConfigError] = []
    for system_name, system in model.systems.items():
        where: tuple[str, ...] = ("systems", system_name)
        try:
            connector_class = load_connector_class(system.connector)
        except ConnectorConfigurationError as unknown:
            key = (*where, "connector")
            # the connector name may have come from a ${VAR}: the message quotes it
            problems.append(ConfigError(mask(str(unknown)), file=path, line=lines.get(key), key=".".join(key)))
            continue
        problems.extend(
            _check_settings(connector_class.settings_model, system.settings(), "setting", where, lines, path)
        )
        for entity_name, entity in model.entities.items():
            binding = entity.systems.get(system_name)
            if binding is not None:
                where = ("entities", entity_name, "systems", system_name)
                options = binding.connector_options()
                problems.extend(
                    _check_settings(connector_class.entity_settings_model, options, "option", where, lines, path)
                )
    return problems


def _check_settings(
    settings_model: type[BaseModel],
    raw: dict[str, Any],
    what: str,
    where: tuple[str, ...],
    lines: dict[tuple[str, ...], int],
    path: Path | None,
) -> list[ConfigError]:
    try:
        validate_settings(settings_model, raw, what=what)
    except SettingsRefused as refused:
        problems = []
        for problem in refused.problems:
            key = (*where, *problem.location)
            _, line = _locate(key, lines)
            # Problems name keys, not values; masking is for values that slipped into a message anyway.
            problems.append(ConfigError(mask(problem.message), file=path, line=line, key=".".join(key)))
        return problems
    return []


def _read_secrets_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise ConfigError("secrets file not found", file=path)
    data = _read_bytes(path, "secrets file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:  # never quote the bytes: they are secrets
        raise ConfigError(
            "the secrets file is not UTF-8 text", file=path, line=data[: exc.start].count(b"\n") + 1
        ) from None
    values: dict[str, str] = {}
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise ConfigError("expected KEY=VALUE", file=path, line=number)
        key, _, value = line.partition("=")
        value = value.strip().strip('"').strip("'")
        name = key.strip().removeprefix("export ").strip()
        values[name] = value
        if SECRET_KEY_PATTERN.search(name):  # a database or user name there is not a secret to hide everywhere
            masking.register(value)
    return values


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the {what}: {exc.strerror or type(exc).__name__}", file=path) from None


def _interpolate(
    node: Any,
    env: Mapping[str, str],
    lines: dict[tuple[str, ...], int],
    path: Path | None,
    where: tuple[str, ...],
    problems: list[ConfigError],
) -> Any:
    """``${VAR}`` and ``${VAR:-default}`` replaced; every secret met registered for masking."""
    if isinstance(node, dict):
        return {key: _interpolate(value, env, lines, path, (*where, str(key)), problems) for key, value in node.items()}
    if isinstance(node, list):
        return [_interpolate(value, env, lines, path, (*where, str(i)), problems) for i, value in enumerate(node)]
    if isinstance(node, str):

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                value = env[name]
            elif default is not None:
                value = default
            else:
                problems.append(
                    ConfigError(
                        f"${{{name}}} is not set (set the environment variable or add it to the secrets file)",
                        file=path,
                        line=_locate(where, lines)[1],
                        key=".".join(where),
                    )
                )
                return match.group(0)
            # a value is a secret by its variable's name or by the key it is used under (below);
            # masking every interpolated word would hide user and database names in paths too
            if SECRET_KEY_PATTERN.search(name):
                masking.register(value)
            return value

        result = _INTERPOLATION.sub(replace, node)
        if where and SECRET_KEY_PATTERN.search(where[-1]):
            masking.register(result)
        if "://" in result:
            masking.register_url_secrets(result)
        return result
    return node


def _line_index(node: yaml.Node | None) -> dict[tuple[str, ...], int]:
    index: dict[tuple[str, ...], int] = {}

    def walk(current: yaml.Node, where: tuple[str, ...]) -> None:
        index.setdefault(where, current.start_mark.line + 1)
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                key = (*where, str(key_node.value))
                index[key] = key_node.start_mark.line + 1
                walk(value_node, key)
                index[key] = key_node.start_mark.line + 1
        elif isinstance(current, yaml.SequenceNode):
            for i, item in enumerate(current.value):
                walk(item, (*where, str(i)))

    if node is not None:
        walk(node, ())
    return index


def _locate(loc: Iterable[str], lines: dict[tuple[str, ...], int]) -> tuple[tuple[str, ...], int | None]:
    """The longest prefix of ``loc`` that is in the file, and its line."""
    parts = tuple(loc)
    # pydantic adds union-member names (e.g. 'str', 'FieldMapConfig') into loc: skip unknown parts
    best: tuple[str, ...] = ()
    current: tuple[str, ...] = ()
    for part in parts:
        candidate = (*current, part)
        if candidate in lines:
            current = candidate
            best = current
    return best, lines.get(best) if best else None
