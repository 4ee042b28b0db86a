"""Field-level three-way merge and the policies (pure core)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from einklang.sync.merge import SystemView, merge_record
from einklang.sync.policies import EntityPolicy, FieldPolicy, Leader, Proposal, resolve

FIELDS = frozenset({"name", "email", "phone"})
BASE = {"name": "Alpha", "email": "a@x.de", "phone": "+49301"}


def view(
    system: str,
    current: dict[str, object] | None = None,
    seen: dict[str, object] | None = None,
    modified: dt.datetime | None = None,
    fields: frozenset[str] = FIELDS,
) -> SystemView:
    return SystemView(system, fields, dict(seen if seen is not None else BASE), current, modified)  # type: ignore[arg-type]


def manual() -> EntityPolicy:
    return EntityPolicy()


def test_change_in_one_system_propagates_to_the_others() -> None:
    result = merge_record(BASE, [view("erp", {**BASE, "email": "b@x.de"}), view("crm"), view("shop")], manual())
    assert result.base["email"] == "b@x.de"
    assert result.writes == {"crm": {"email": "b@x.de"}, "shop": {"email": "b@x.de"}}
    assert "erp" not in result.writes
    assert result.write_reasons["crm"]["email"] == "email changed in erp"


def test_same_value_in_two_systems_is_no_conflict() -> None:
    result = merge_record(BASE, [view("erp", {"email": "b@x.de"}), view("crm", {"email": "b@x.de"})], manual())
    assert not result.conflicts
    assert result.base["email"] == "b@x.de"
    assert result.writes == {}


def test_different_fields_in_different_systems_all_merge() -> None:
    result = merge_record(
        BASE, [view("erp", {**BASE, "phone": "+4930999"}), view("crm", {**BASE, "email": "new@x.de"})], manual()
    )
    assert result.base == {"name": "Alpha", "email": "new@x.de", "phone": "+4930999"}
    assert result.writes == {"erp": {"email": "new@x.de"}, "crm": {"phone": "+4930999"}}


def test_absent_field_is_unknown_never_a_wipe() -> None:
    result = merge_record(BASE, [view("erp", {"name": "Alpha"}), view("crm")], manual())
    assert result.base == BASE
    assert result.writes == {}


def test_explicit_empty_value_is_a_change() -> None:
    result = merge_record(BASE, [view("erp", {**BASE, "phone": None}), view("crm")], manual())
    assert result.base["phone"] is None
    assert result.writes == {"crm": {"phone": None}}


def test_manual_conflict_holds_only_that_field() -> None:
    result = merge_record(
        BASE,
        [view("erp", {**BASE, "email": "e@x.de", "phone": "+4930222"}), view("crm", {**BASE, "email": "c@x.de"})],
        manual(),
    )
    assert [c.field for c in result.conflicts] == ["email"]
    assert result.conflicts[0].values == {"erp": "e@x.de", "crm": "c@x.de"}
    assert result.base["email"] == "a@x.de"
    assert result.writes == {"crm": {"phone": "+4930222"}}
    assert "held for a decision" in result.conflicts[0].reason


def test_held_field_stays_held_and_settles_when_systems_agree() -> None:
    held = {"email": {"erp": "e@x.de", "crm": "c@x.de"}}
    seen_erp = {**BASE, "email": "e@x.de"}
    seen_crm = {**BASE, "email": "c@x.de"}
    quiet = merge_record(
        BASE, [view("erp", {**seen_erp, "name": "Alpha AG"}, seen_erp), view("crm", None, seen_crm)], manual(), held
    )
    assert quiet.held == held and quiet.writes == {"crm": {"name": "Alpha AG"}}
    settled = merge_record(
        BASE, [view("erp", None, seen_erp), view("crm", {**seen_crm, "email": "e@x.de"}, seen_crm)], manual(), held
    )
    assert settled.settled == {"email": "e@x.de"} and settled.base["email"] == "e@x.de"


def test_leader_wins_and_reason_is_given() -> None:
    policy = EntityPolicy(FieldPolicy(conflicts=Leader("erp")))
    result = merge_record(BASE, [view("erp", {"email": "e@x.de"}), view("crm", {"email": "c@x.de"})], policy)
    assert result.base["email"] == "e@x.de"
    assert result.writes == {"crm": {"email": "e@x.de"}}
    assert any("leader erp wins" in d.reason for d in result.decisions)


def test_empty_leader_value_does_not_wipe_unless_configured() -> None:
    views = [view("erp", {"email": None}), view("crm", {"email": "c@x.de"})]
    kept = merge_record(BASE, views, EntityPolicy(FieldPolicy(conflicts=Leader("erp"))))
    assert kept.base["email"] == "c@x.de"
    wiped = merge_record(BASE, views, EntityPolicy(FieldPolicy(conflicts=Leader("erp"), empty_wins=True)))
    assert wiped.base["email"] is None


def test_newest_compares_each_systems_own_time_and_is_opt_in() -> None:
    early, late = dt.datetime(2024, 1, 1, 10), dt.datetime(2024, 1, 1, 11)
    views = [view("erp", {"email": "e@x.de"}, modified=late), view("crm", {"email": "c@x.de"}, modified=early)]
    result = merge_record(BASE, views, EntityPolicy(FieldPolicy(conflicts="newest")))
    assert result.base["email"] == "e@x.de"
    assert merge_record(BASE, views, manual()).conflicts  # default is manual, never newest
    no_time = [view("erp", {"email": "e@x.de"}), view("crm", {"email": "c@x.de"}, modified=early)]
    assert merge_record(BASE, no_time, EntityPolicy(FieldPolicy(conflicts="newest"))).conflicts


def test_ownership_violation_is_reported_not_propagated() -> None:
    policy = EntityPolicy(fields={"phone": FieldPolicy(owners=frozenset({"erp"}))})
    result = merge_record(BASE, [view("erp"), view("crm", {**BASE, "phone": "+4930666"})], policy)
    assert result.base["phone"] == "+49301"
    assert result.writes == {}
    assert [d.kind for d in result.decisions] == ["violation"]
    assert result.tolerated["crm"] == {"phone": "+4930666"}
    # the tolerated value is not overwritten while nothing else happens to the field
    again = merge_record(
        BASE,
        [
            SystemView("erp", FIELDS, BASE, None),
            SystemView(
                "crm", FIELDS, {**BASE, "phone": "+4930666"}, {**BASE, "name": "B"}, tolerated=result.tolerated["crm"]
            ),
        ],
        policy,
    )
    assert again.writes == {"erp": {"name": "B"}}


def test_ownership_violation_with_revert_writes_the_owners_value_back() -> None:
    policy = EntityPolicy(fields={"phone": FieldPolicy(owners=frozenset({"erp"}), revert_violations=True)})
    result = merge_record(BASE, [view("erp"), view("crm", {**BASE, "phone": "+4930666"})], policy)
    assert result.writes == {"crm": {"phone": "+49301"}}
    assert "reverted" in result.write_reasons["crm"]["phone"]


def test_system_behind_with_a_pending_write_is_not_a_change() -> None:
    # crm was down: base moved to b@x.de but crm still holds a@x.de (seen), with a write pending
    base = {**BASE, "email": "b@x.de"}
    result = merge_record(base, [view("erp", None, base), view("crm", {**BASE, "name": "Alpha AG"}, BASE)], manual())
    assert result.base == {**base, "name": "Alpha AG"}
    assert result.writes == {"erp": {"name": "Alpha AG"}, "crm": {"email": "b@x.de"}}


def test_change_by_a_system_that_was_behind_is_concurrent() -> None:
    base = {**BASE, "email": "b@x.de"}
    result = merge_record(base, [view("erp", None, base), view("crm", {**BASE, "email": "c@x.de"}, BASE)], manual())
    assert [c.field for c in result.conflicts] == ["email"]
    assert result.conflicts[0].values == {"erp": "b@x.de", "crm": "c@x.de"}


def test_field_not_mapped_in_a_system_is_neither_read_nor_written_there() -> None:
    result = merge_record(
        BASE, [view("erp", {**BASE, "phone": "+4930999"}), view("crm", fields=frozenset({"name", "email"}))], manual()
    )
    assert result.writes == {}
    assert result.base["phone"] == "+4930999"


def test_leader_not_involved_among_three_systems_holds_the_field() -> None:
    resolution = resolve(
        "email", [Proposal("x", ("crm",)), Proposal("y", ("shop",))], FieldPolicy(conflicts=Leader("erp"))
    )
    assert resolution.conflict


# ------------------------------------------------------------------ properties
values = st.sampled_from(["a", "b", "c", None])
systems = ["s1", "s2", "s3"]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, object], list[SystemView]]:
    base = {name: draw(values) for name in sorted(FIELDS)}
    views = []
    for system in systems[: draw(st.integers(2, 3))]:
        if draw(st.booleans()):
            current = {name: draw(values) for name in sorted(FIELDS) if draw(st.booleans())}
        else:
            current = None
        views.append(SystemView(system, FIELDS, dict(base), current))  # type: ignore[arg-type]
    return base, views


@settings(max_examples=300, deadline=None)
@given(scenarios(), st.sampled_from(["manual", "leader", "newest"]))
def test_after_the_planned_writes_every_system_holds_the_base_except_held_fields(
    scenario: tuple[dict[str, object], list[SystemView]], rule: str
) -> None:
    base, views = scenario
    conflicts = Leader("s1") if rule == "leader" else rule
    result = merge_record(base, views, EntityPolicy(FieldPolicy(conflicts=conflicts)))  # type: ignore[arg-type]
    for v in views:
        after = {**result.seen[v.system], **result.writes.get(v.system, {})}
        for name in FIELDS:
            if name in result.held:
                continue
            assert after.get(name) == result.base.get(name)


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_no_change_is_lost_under_manual_policy(scenario: tuple[dict[str, object], list[SystemView]]) -> None:
    base, views = scenario
    result = merge_record(base, views, EntityPolicy())  # type: ignore[arg-type]
    for v in views:
        for name, value in (v.current or {}).items():
            if value != base.get(name):
                # the change won, or the field is held as a conflict that records this value
                assert result.base.get(name) == value or result.held[name][v.system] == value


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_merging_again_with_nothing_new_changes_nothing(scenario: tuple[dict[str, object], list[SystemView]]) -> None:
    base, views = scenario
    first = merge_record(base, views, EntityPolicy())  # type: ignore[arg-type]
    settled_views = [
        SystemView(v.system, FIELDS, {**first.seen[v.system], **first.writes.get(v.system, {})}, None) for v in views
    ]
    second = merge_record(first.base, settled_views, EntityPolicy(), first.held)
    assert second.writes == {} and second.base == first.base and not second.conflicts


def test_catching_up_to_the_agreed_value_is_not_a_competing_change() -> None:
    # erp received the new e-mail but a crash lost the confirmation (seen still old); meanwhile
    # crm changed the e-mail again: crm's change simply wins, there is nothing to decide
    base = {**BASE, "email": "b@x.de"}
    result = merge_record(
        base, [view("erp", {**BASE, "email": "b@x.de"}, BASE), view("crm", {**BASE, "email": "c@x.de"}, base)], manual()
    )
    assert not result.conflicts
    assert result.base["email"] == "c@x.de" and result.writes == {"erp": {"email": "c@x.de"}}
