"""The ``person`` spec: a contact plus date of birth and a national ID number.

Used for registers of people (and for the FEBRL benchmark data). With a date of birth and an
ID number, a given name that differs is more likely a typing error than another person, so the
first-name rule gives way when both agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from einklang.match import fields
from einklang.match._normalize import text_or_none
from einklang.match._sql import edits_within, either_null, level, same
from einklang.match.names import (
    NAME_COLUMNS,
    close_names_rule,
    first_name_drop,
    first_name_rule,
    last_name_changed_rule,
    missing_first_name_rule,
    name_comparison,
    name_only_rule,
    prepare_name,
)
from einklang.match.spec import ComparisonDef, LevelDef, ListBlock, MatchSpec, PairView, PreparedRow

PERSON_FIELDS = (
    "first_name",
    "last_name",
    "street",
    "postal_code",
    "city",
    "country",
    "date_of_birth",
    "national_id",
    "phone",
    "mobile",
    "email",
)


def _digits(value: Any) -> str | None:
    text = text_or_none(value)
    if text is None:
        return None
    digits = re.sub(r"\D", "", text)
    return digits or None


def _birth_date(value: Any) -> str | None:
    text = text_or_none(value)
    if text is None:
        return None
    iso = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text)
    german = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", text)
    if iso:
        return "".join(iso.groups())
    if german:
        day, month, year = german.groups()
        return f"{year}{int(month):02d}{int(day):02d}"
    digits = re.sub(r"\D", "", text)
    return digits if len(digits) == 8 else None


def prepare_person(record: Mapping[str, Any], default_region: str) -> dict[str, Any]:
    prepared = prepare_name(record.get("first_name"), record.get("last_name"))
    prepared.update(fields.prepare_address(record, default_region))
    prepared.update(fields.prepare_phones(record, default_region))
    prepared.update(fields.prepare_email(record, prepared["last_fold"]))
    prepared["date_of_birth"] = _birth_date(record.get("date_of_birth"))
    prepared["national_id"] = _digits(record.get("national_id"))
    return prepared


def _explain_birth(level_def: LevelDef, left: PreparedRow, right: PreparedRow) -> list[str]:
    values = f"{left.get('date_of_birth')} ~ {right.get('date_of_birth')}"
    if level_def.key == "same":
        return [f"date_of_birth: same ({left.get('date_of_birth')})"]
    if level_def.key == "differs":
        return [f"date_of_birth: differs ({left.get('date_of_birth')} vs {right.get('date_of_birth')})"]
    return [f"date_of_birth: {level_def.label} ({values})"]


def _explain_id(level_def: LevelDef, left: PreparedRow, right: PreparedRow) -> list[str]:
    if level_def.key == "same":
        return [f"national_id: same ({left.get('national_id')})"]
    if level_def.key == "differs":
        return [f"national_id: differs ({left.get('national_id')} vs {right.get('national_id')})"]
    return [f"national_id: {level_def.label} ({left.get('national_id')} ~ {right.get('national_id')})"]


BIRTH_DATE_COMPARISON = ComparisonDef(
    "date_of_birth",
    either_null("date_of_birth"),
    (
        LevelDef("same", "same date", level(same("date_of_birth")), 0.85, 3e-5, frozenset({"dob:same"})),
        LevelDef(
            "one_edit",
            "one digit differs or two swapped",
            level(edits_within("date_of_birth", 1)),
            0.08,
            1.5e-3,
            frozenset({"dob:similar"}),
        ),
        LevelDef(
            "two_edits",
            "two digits differ",
            level(edits_within("date_of_birth", 2)),
            0.03,
            1.5e-2,
            frozenset({"dob:similar"}),
        ),
        LevelDef("differs", "dates differ", None, 0.04, 0.98347, frozenset({"dob:differs"})),
    ),
    _explain_birth,
    "date of birth (YYYYMMDD)",
)

NATIONAL_ID_COMPARISON = ComparisonDef(
    "national_id",
    either_null("national_id"),
    (
        LevelDef("same", "same number", level(same("national_id")), 0.85, 1e-6, frozenset({"id:same"})),
        LevelDef(
            "one_edit",
            "one digit differs or two swapped",
            level(edits_within("national_id", 1)),
            0.07,
            1e-5,
            frozenset({"id:similar"}),
        ),
        LevelDef(
            "two_edits",
            "two digits differ",
            level(edits_within("national_id", 2)),
            0.03,
            2e-4,
            frozenset({"id:similar"}),
        ),
        LevelDef("differs", "numbers differ", None, 0.05, 0.999789, frozenset({"id:differs"})),
    ),
    _explain_id,
    "national ID number",
)


IDENTITY_FACTS = (("id:same",), ("dob:same", "id:similar"))
"""The ID number is the same, or differs by one typing error while the date of birth agrees."""


def identity_agrees(pair: PairView) -> bool:
    """Identifiers only one person has agree (:data:`IDENTITY_FACTS`).

    An ID number belongs to one person, so a given name that differs is then a typing error.
    """
    return any(all(pair.has(fact) for fact in group) for group in IDENTITY_FACTS)


PERSONAL_EVIDENCE = ("phone:mobile", "email:personal", "email:local", "dob:same", "id:same", "id:similar")
CORROBORATION = (
    "address:same",
    "address:similar",
    "phone:same",
    "email:same",
    "email:local",
    "dob:same",
    "dob:similar",
    "id:same",
    "id:similar",
)
FIRST_NAME_DROP = first_name_drop(PERSONAL_EVIDENCE, IDENTITY_FACTS)

PERSON_SPEC = MatchSpec(
    name="person",
    fields=PERSON_FIELDS,
    prepare_record=prepare_person,
    comparisons=(
        name_comparison(),
        fields.address_comparison(),
        BIRTH_DATE_COMPARISON,
        NATIONAL_ID_COMPARISON,
        fields.phone_comparison(),
        fields.email_comparison(),
    ),
    blocking_rules=(
        "l.last_phonetic = r.last_phonetic AND l.first_phonetic = r.first_phonetic",
        "l.first_phonetic = r.last_phonetic AND l.last_phonetic = r.first_phonetic",
        "l.date_of_birth = r.date_of_birth",
        "l.national_id = r.national_id",
        "l.postal_key = r.postal_key AND l.street_key = r.street_key",
        "l.last_phonetic = r.last_phonetic AND l.postal_key = r.postal_key",
        ListBlock("email_addresses"),
        ListBlock("mobile_numbers"),
    ),
    training_blocking_rules=(
        "l.date_of_birth = r.date_of_birth",
        "l.postal_key = r.postal_key",
    ),
    deterministic_rules=(
        "l.national_id = r.national_id",
        "l.first_fold = r.first_fold AND l.last_fold = r.last_fold AND l.date_of_birth = r.date_of_birth",
    ),
    post_rules=(
        first_name_rule(FIRST_NAME_DROP),
        close_names_rule(PERSONAL_EVIDENCE, identity_agrees),
        missing_first_name_rule(PERSONAL_EVIDENCE),
        last_name_changed_rule(identity_agrees),
        name_only_rule(CORROBORATION),
    ),
    drops=(FIRST_NAME_DROP,),
    probability_two_random_records_match=1e-4,
    prepared_columns=(
        *NAME_COLUMNS,
        *fields.ADDRESS_COLUMNS,
        *fields.PHONE_COLUMNS,
        *fields.EMAIL_COLUMNS,
        "date_of_birth",
        "national_id",
    ),
    list_columns=fields.LIST_COLUMNS,
    bool_columns=fields.BOOL_COLUMNS,
)
