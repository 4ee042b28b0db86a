"""The canonical records' stable text: orjson writes it, and it is byte for byte what json writes
(stored hashes depend on it); records orjson cannot write as json does go through json."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from einklang.model import (
    CanonicalRecord,
    decode_record,
    encode_record,
    load_json,
    load_record,
    record_hash,
    record_json,
)


def json_text(record: CanonicalRecord) -> str:
    """The definition of the stable text (json), which ``record_json`` must reproduce exactly."""
    return json.dumps(encode_record(record), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),  # beyond 64 bits too: orjson refuses those
    st.text(),  # any character: control characters, non-ASCII, astral planes, lone surrogates
    st.decimals(allow_nan=False, allow_infinity=False),
    st.dates(),
    st.datetimes(),
)
records = st.dictionaries(st.text(max_size=12), values, max_size=8)


@given(records)
def test_record_json_is_the_text_json_writes(record: CanonicalRecord) -> None:
    assert record_json(record) == json_text(record)


@given(records)
def test_a_record_read_back_is_the_record(record: CanonicalRecord) -> None:
    assert load_record(record_json(record)) == decode_record(json.loads(json_text(record)))


def test_known_hash_is_unchanged() -> None:
    # the digest a state store holds for this record (computed with json before orjson was used)
    record: CanonicalRecord = {
        "name": 'Müller & Söhne "Werkzeuge"\n',
        "amount": Decimal("12.50"),
        "since": dt.date(2024, 5, 1),
        "seen": dt.datetime(2024, 5, 1, 10, 0, 0, 123000),
        "count": 3,
        "active": True,
        "phone": None,
        "emoji": "\U0001f600\u2028",
    }
    assert record_json(record) == json_text(record)
    assert record_hash(record) == "7a793cff5355f9a954438e9f7c43d40f"


def test_floats_and_what_orjson_refuses_go_through_json() -> None:
    assert record_json({"x": 1e16}) == '{"x":1e+16}'  # orjson would write 1e16
    assert record_json({"x": 2**65}) == '{"x":36893488147419103232}'
    assert load_json('{"x": NaN}')["x"] != load_json('{"x": NaN}')["x"]  # json reads NaN, orjson does not
    assert load_json('{"x": 36893488147419103232}') == {"x": 2**65}
