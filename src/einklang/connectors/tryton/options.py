"""Settings of the tryton connector."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from einklang.connectors._http import HttpSettings
from einklang.connectors.settings import ConnectorSettings, Name, NonNegativeNumber, Secret


class TrytonSettings(HttpSettings):
    """``url`` is the server (without the database); the user logs in with a password."""

    database: Name
    user: Name
    password: Secret
    language: Name = "en"
    # Tryton's write dates are the server clock at transaction start: a transaction that commits
    # late carries an older date than changes already read, so each read looks back this far.
    overlap_seconds: NonNegativeNumber = 10.0


class TrytonEntityOptions(ConnectorSettings):
    kind: Name | None = None  # default: the entity name
    # What deleting a record does: archive it (active = false, where the model has the flag) or
    # delete it for good.
    delete_mode: Literal["archive", "delete"] = "archive"
    # A Tryton search domain selecting the entity's records among the model's (e.g. parties that
    # are customers, not the employees' parties): records outside it are not read.
    domain: list[Any] = Field(default_factory=list)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str | None) -> str | None:
        from einklang.connectors.tryton.registry import KINDS  # kinds import the session, not the reverse

        if kind is not None and kind not in KINDS:
            raise ValueError(f"unknown Tryton kind (known: {', '.join(sorted(KINDS))})")
        return kind
