"""Typed connector settings: the models connectors declare, and how a refusal is explained.

Every connector declares two pydantic models (see :class:`einklang.connectors.base.Connector`):
one for the system's settings (``url``, ``token`` ...) and one for the options of each entity it
serves (``table``, ``resource`` ...). Both refuse unknown keys, so a misspelt key is an error at
load time instead of a default silently taken.

A refusal is turned into :class:`SettingsProblem` items that name the key, never its value:
values may be secrets (a password, a token, a ``${VAR}`` already resolved), and messages end up
in logs and on screens. Secret values are kept as :class:`pydantic.SecretStr`, whose ``repr``
hides them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    SecretStr,
    StrictBool,
    StrictInt,
    ValidationError,
)
from pydantic_core import ErrorDetails


class ConnectorSettings(BaseModel):
    """Base of connector settings models: unknown keys are refused, values do not change later."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoOptions(ConnectorSettings):
    """For connectors whose entities take no options at all."""


def _positive_int(value: int) -> int:
    if value < 1:
        raise ValueError("must be a positive integer")
    return value


def _positive_number(value: float) -> float:
    if value <= 0:
        raise ValueError("must be a number > 0")
    return value


def _non_negative_number(value: float) -> float:
    if value < 0:
        raise ValueError("must be a number >= 0")
    return value


def _non_negative_int(value: int) -> int:
    if value < 0:
        raise ValueError("must be an integer >= 0")
    return value


def _no_bool(value: Any) -> Any:
    # YAML's ``yes`` is a bool, and a bool is an int to Python: not a number anyone meant.
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _secret_text(value: Any) -> Any:
    # A password of digits arrives from YAML as a number; it is still a password.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


PositiveInt = Annotated[StrictInt, AfterValidator(_positive_int)]
NonNegativeInt = Annotated[StrictInt, AfterValidator(_non_negative_int)]
PositiveNumber = Annotated[float, BeforeValidator(_no_bool), AfterValidator(_positive_number)]
NonNegativeNumber = Annotated[float, BeforeValidator(_no_bool), AfterValidator(_non_negative_number)]
Flag = StrictBool
Name = Annotated[str, AfterValidator(_not_blank)]
Secret = Annotated[SecretStr, BeforeValidator(_secret_text)]


class ArchiveRule(ConnectorSettings):
    """How a record is archived instead of deleted: ``column`` set to ``value``."""

    column: Name
    value: Any

    def patch(self) -> dict[str, Any]:
        """The update that archives a record."""
        return {self.column: self.value}


@dataclass(frozen=True)
class SettingsProblem:
    """One refused key: where it is below the settings mapping, and why (never its value)."""

    location: tuple[str, ...]
    message: str


Model = TypeVar("Model", bound=BaseModel)


class SettingsRefused(Exception):
    """Raised by :func:`validate_settings`; ``problems`` has at least one item."""

    def __init__(self, problems: list[SettingsProblem]) -> None:
        self.problems = problems
        first = problems[0].message
        more = len(problems) - 1
        super().__init__(first + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""))


def validate_settings(model: type[Model], raw: Mapping[str, Any] | BaseModel, *, what: str) -> Model:
    """``raw`` as ``model``; ``what`` names a key in messages ("setting", "option")."""
    if isinstance(raw, model):
        return raw
    if isinstance(raw, BaseModel):
        raw = raw.model_dump()
    try:
        return model.model_validate(dict(raw))
    except ValidationError as refused:
        raise SettingsRefused([_problem(model, error, what) for error in refused.errors()]) from None


def _problem(model: type[BaseModel], error: ErrorDetails, what: str) -> SettingsProblem:
    location = tuple(str(part) for part in error["loc"])
    key = ".".join(location)
    kind = error["type"]
    if kind == "missing":
        return SettingsProblem(location, f"{what} {key!r} is required")
    if kind == "extra_forbidden":
        keys = (field.alias or name for name, field in model.model_fields.items())
        known = ", ".join(sorted(keys)) if len(location) == 1 else ""
        return SettingsProblem(location, f"unknown {what} {key!r}" + (f" (known: {known})" if known else ""))
    message = error["msg"].removeprefix("Value error, ")
    return SettingsProblem(location, f"{what} {key!r}: {message}" if location else message)
