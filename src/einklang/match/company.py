"""The ``company`` spec: an organisation (customer account) with its address and contact data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from einklang.match import fields
from einklang.match.spec import (
    ComparisonDef,
    DropWhen,
    LevelDef,
    ListBlock,
    MatchSpec,
    PairView,
    PostRule,
    PreparedRow,
    RuleOutcome,
)

COMPANY_FIELDS = ("name", "street", "postal_code", "city", "country", "phone", "email")


def prepare_company_record(record: Mapping[str, Any], default_region: str) -> dict[str, Any]:
    prepared = fields.prepare_company(record.get("name"))
    prepared["name"] = prepared.pop("company")
    prepared.update(fields.prepare_address(record, default_region))
    prepared.update(fields.prepare_phones(record, default_region))
    prepared.update(fields.prepare_email(record, None))
    return prepared


def _explain_company_name(level_def: LevelDef, left: PreparedRow, right: PreparedRow) -> list[str]:
    # The shared explanation reads "company"; a company record keeps its name in "name".
    as_left = {**left, "company": left.get("name")}
    as_right = {**right, "company": right.get("name")}
    reasons = fields.explain_company(level_def, as_left, as_right)
    return [reason.replace("company:", "name:", 1) for reason in reasons]


DIFFERENT_COMPANY_DROP = DropWhen(any_of=("company:differs",), none_of=("phone:same", "email:same"))


def _different_company_rule() -> PostRule:
    """Several firms share one building, and one firm's switchboard may serve a sister firm."""

    def rule(pair: PairView) -> RuleOutcome | None:
        if not DIFFERENT_COMPANY_DROP.conflict(pair):
            return None
        who = f"{pair.left.get('name')} vs {pair.right.get('name')}"
        if not DIFFERENT_COMPANY_DROP.holds(pair):
            return RuleOutcome(
                reason=f"rule: names differ ({who}) but contact data agree: needs review",
                cap_at_possible=True,
            )
        return RuleOutcome(reason=f"rule: different company names ({who}): different companies", drop=True)

    return rule


def _name_only_rule(pair: PairView) -> RuleOutcome | None:
    if not (pair.has("company:same") or pair.has("company:similar")):
        return None
    if any(pair.has(fact) for fact in ("address:same", "address:similar", "phone:same", "email:same", "email:domain")):
        return None
    return RuleOutcome(reason="rule: only the name agrees (branch or namesake?): needs review", cap_at_possible=True)


def _company_name_comparison() -> ComparisonDef:
    base = fields.company_comparison(m_same=0.8, u_same=1e-4)
    return ComparisonDef(base.name, base.null_when, base.levels, _explain_company_name, base.description)


COMPANY_SPEC = MatchSpec(
    name="company",
    fields=COMPANY_FIELDS,
    prepare_record=prepare_company_record,
    comparisons=(
        _company_name_comparison(),
        fields.address_comparison(),
        fields.phone_comparison(),
        fields.email_comparison(),
    ),
    blocking_rules=(
        "l.company_key = r.company_key",
        "l.company_phonetic = r.company_phonetic",
        "l.postal_key = r.postal_key AND l.street_key = r.street_key",
        ListBlock("phone_numbers"),
        ListBlock("email_addresses"),
        ListBlock("email_org_domains"),
    ),
    training_blocking_rules=(
        "l.postal_key = r.postal_key AND l.street_key = r.street_key",
        "l.company_key = r.company_key",
    ),
    deterministic_rules=(
        "l.company_key = r.company_key AND l.postal_key = r.postal_key",
        "l.company_key = r.company_key AND l.phone_e164 = r.phone_e164",
    ),
    post_rules=(_different_company_rule(), _name_only_rule),
    drops=(DIFFERENT_COMPANY_DROP,),
    probability_two_random_records_match=1e-4,
    prepared_columns=(
        "name",
        "company_key",
        "company_phonetic",
        *fields.ADDRESS_COLUMNS,
        *fields.PHONE_COLUMNS,
        *fields.EMAIL_COLUMNS,
    ),
    list_columns=fields.LIST_COLUMNS,
    bool_columns=fields.BOOL_COLUMNS,
)
