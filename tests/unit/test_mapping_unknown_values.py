"""A value einklang could not read is unknown, never empty (hardening finding 2).

A native record that lacks a mapped column (a partial API answer, a list endpoint with fewer
fields than the detail one) must leave the canonical field out, so that the merge takes it for
"no observation" rather than "changed to empty" and nothing is blanked in the other systems.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from einklang.mapping import EntityMapping, FieldMap, MapKind
from einklang.model import EntitySpec, FieldSpec, FieldType
from einklang.sync.merge import SystemView, merge_record
from einklang.sync.policies import EntityPolicy

SPEC = EntitySpec(
    "company",
    {
        "number": FieldSpec("number"),
        "name": FieldSpec("name"),
        "first_name": FieldSpec("first_name"),
        "last_name": FieldSpec("last_name"),
        "city": FieldSpec("city"),
        "email": FieldSpec("email", FieldType.EMAIL),
    },
)
RULES = [
    FieldMap("number", ("kundennr",)),
    FieldMap("name", ("name1", "name2"), MapKind.JOIN),
    FieldMap("first_name", ("kontakt",), MapKind.NAME_PART, part="first"),
    FieldMap("last_name", ("kontakt",), MapKind.NAME_PART, part="last"),
    FieldMap("city", ("ort",)),
    FieldMap("email", ("email",)),
]
FULL = {
    "kundennr": "K1",
    "name1": "Muster",
    "name2": "GmbH",
    "kontakt": "Erika Mustermann",
    "ort": "Berlin",
    "email": "info@muster.de",
}
COLUMNS_OF = {
    "number": {"kundennr"},
    "name": {"name1", "name2"},
    "first_name": {"kontakt"},
    "last_name": {"kontakt"},
    "city": {"ort"},
    "email": {"email"},
}


def mapping() -> EntityMapping:
    return EntityMapping(SPEC, RULES)


def test_a_missing_column_leaves_the_field_out() -> None:
    record, problems = mapping().to_canonical({k: v for k, v in FULL.items() if k != "ort"})
    assert "city" not in record
    assert record["number"] == "K1" and not problems


def test_a_column_present_with_none_is_a_real_empty_value() -> None:
    record, _ = mapping().to_canonical({**FULL, "ort": None})
    assert "city" in record and record["city"] is None


def test_a_join_with_a_missing_part_is_unknown_not_the_part_it_read() -> None:
    record, _ = mapping().to_canonical({k: v for k, v in FULL.items() if k != "name2"})
    assert "name" not in record
    record, _ = mapping().to_canonical({**FULL, "name2": None})
    assert record["name"] == "Muster"


def test_a_missing_full_name_column_leaves_both_parts_out() -> None:
    record, _ = mapping().to_canonical({k: v for k, v in FULL.items() if k != "kontakt"})
    assert "first_name" not in record and "last_name" not in record


def test_writing_a_record_writes_only_what_it_holds() -> None:
    native = mapping().to_native({"number": "K1", "city": None})
    assert native == {"kundennr": "K1", "ort": None}
    plain = EntityMapping(SPEC, [FieldMap("number", ("kundennr",)), FieldMap("city", ("ort",))])
    assert plain.to_native({"number": "K1"}) == {"kundennr": "K1"}


def test_a_full_name_column_is_not_rebuilt_from_half_a_name() -> None:
    native = mapping().to_native({"number": "K1", "first_name": "Erika"})
    assert "kontakt" not in native
    native = mapping().to_native({"number": "K1", "first_name": "Erika", "last_name": "Muster"})
    assert native["kontakt"] == "Erika Muster"


@given(st.sets(st.sampled_from(sorted(FULL))))
def test_only_fields_whose_columns_were_read_are_in_the_record(dropped: set[str]) -> None:
    full, _ = mapping().to_canonical(FULL)
    partial, _ = mapping().to_canonical({k: v for k, v in FULL.items() if k not in dropped})
    for name, columns in COLUMNS_OF.items():
        if columns & dropped:
            assert name not in partial
        else:
            assert partial[name] == full[name]


@given(
    st.sets(st.sampled_from(sorted(FULL))),
    st.dictionaries(st.sampled_from(sorted(set(FULL) - {"kontakt"})), st.text(max_size=5)),
)
def test_a_partial_reading_never_blanks_a_field_in_the_other_system(dropped: set[str], edits: dict[str, Any]) -> None:
    """Merge what a system read (edited, with columns missing) against an agreed base."""
    m = mapping()
    base, _ = m.to_canonical(FULL)
    current, _ = m.to_canonical({k: v for k, v in {**FULL, **edits}.items() if k not in dropped})
    fields = frozenset(m.canonical_fields)
    views = [SystemView("erp", fields, dict(base), current), SystemView("crm", fields, dict(base))]
    result = merge_record(base, views, EntityPolicy())
    for name, columns in COLUMNS_OF.items():
        if columns & dropped:
            # not read in erp: no observation, so crm keeps the agreed value and nothing is planned
            assert result.base.get(name) == base.get(name)
            assert name not in result.writes.get("crm", {})
