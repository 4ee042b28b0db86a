"""The digest's text stays readable whatever the records hold (hypothesis)."""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from einklang.service.digest import LISTED_PER_KIND, mail_text, subject, webhook_body
from einklang.store.notifications import KINDS, Event

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)
events = st.builds(
    Event,
    key=st.uuids().map(str),
    kind=st.sampled_from(KINDS),
    since=st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)),
    entity=st.sampled_from(["company", "contact"]),
    system=st.sampled_from(["erp", "crm", None]),
    golden_id=st.none(),
    native_id=texts,
    subject=texts,
    detail=texts,
    values=st.dictionaries(st.sampled_from(["erp", "crm"]), texts, max_size=2),
)


@settings(max_examples=150, deadline=None)
@example([Event("k", "isolated", dt.datetime(2026, 1, 1), detail="refused\u2028- forged entry\x1c- another")], "en")
@given(st.lists(events, max_size=60), st.sampled_from(["de", "en"]))
def test_every_line_fits_and_each_kind_is_listed_up_to_the_limit(found: list[Event], language: str) -> None:
    text = mail_text(found, {}, language)  # type: ignore[arg-type]
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    listed = sum(1 for line in lines if line.startswith("- "))
    per_kind = [sum(1 for event in found if event.kind == kind) for kind in KINDS]
    assert listed == sum(min(n, LISTED_PER_KIND) for n in per_kind)
    title = subject(found, language)  # type: ignore[arg-type]
    assert "\n" not in title and "\r" not in title
    body = webhook_body(found, {}, dt.datetime(2026, 1, 1))
    assert body["counts"] == dict(zip(KINDS, per_kind, strict=True))
    json.dumps(body)  # serialisable as it is sent
