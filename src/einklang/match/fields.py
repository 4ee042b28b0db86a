"""Address, phone, e-mail and company: comparison columns, comparisons and their words.

Shared by the contact, company and person specs. Street, postal code and city are one joint
comparison because they are strongly correlated; counting them separately would triple the
evidence of one shared address (which is exactly what colleagues have).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from einklang.match import _normalize as norm
from einklang.match._sql import edits_within, either_null, jaro_winkler_at_least, level, same
from einklang.match.phonetic import cologne_phonetic
from einklang.match.spec import ComparisonDef, LevelDef, PairView, PostRule, PreparedRow, RuleOutcome
from einklang.normalize.email import FREEMAIL_DOMAINS


def _shown(value: Any) -> str:
    return str(value) if value not in (None, "") else "–"


def _text(record: Mapping[str, Any], field: str) -> str | None:
    raw = norm.text_or_none(record.get(field))
    return norm.clean_text(raw) if raw else None


# ---------------------------------------------------------------- address

ADDRESS_COLUMNS = ("street", "postal_code", "city", "country", "street_key", "postal_key", "city_fold")


def prepare_address(record: Mapping[str, Any], default_region: str) -> dict[str, Any]:
    street, postal, city = _text(record, "street"), _text(record, "postal_code"), _text(record, "city")
    raw_country = _text(record, "country")
    country = norm.country(raw_country) if raw_country else None
    return {
        "street": street,
        "postal_code": postal,
        "city": city,
        "country": country,
        "street_key": norm.street_key(street) if street else None,
        # The postal code format depends on the country; without one, the list's home region.
        "postal_key": norm.postal_code(postal, country or default_region) if postal else None,
        "city_fold": norm.fold(city) if city else None,
    }


_NO_ADDRESS = (
    '("street_key_l" IS NULL AND "postal_key_l" IS NULL AND "city_fold_l" IS NULL) OR '
    '("street_key_r" IS NULL AND "postal_key_r" IS NULL AND "city_fold_r" IS NULL)'
)
_SAME_PLACE = f"({same('postal_key')} OR {same('city_fold')})"
_STREET_SIMILAR = f"({edits_within('street_key', 2)} OR {jaro_winkler_at_least('street_key', 0.92)})"

ADDRESS_LEVELS = (
    LevelDef(
        "same",
        "same street and postal code",
        level(f"{same('street_key')} AND {same('postal_key')}"),
        0.78,
        5e-5,
        frozenset({"address:same"}),
    ),
    LevelDef(
        "same_street_city",
        "same street, same city or postal code close",
        level(
            f"{same('street_key')} AND ({same('city_fold')} OR {edits_within('postal_key', 1)} "
            f"OR {either_null('postal_key')})"
        ),
        0.06,
        3e-5,
        frozenset({"address:same"}),
    ),
    LevelDef(
        "similar_street",
        "similar street in the same place",
        level(f"{_STREET_SIMILAR} AND {_SAME_PLACE}"),
        0.06,
        5e-5,
        frozenset({"address:similar"}),
    ),
    LevelDef(
        "same_postal_code",
        "same postal code, other street",
        level(same("postal_key")),
        0.03,
        2e-3,
        frozenset({"address:area"}),
    ),
    LevelDef(
        "same_city",
        "same city, other postal code",
        level(same("city_fold")),
        0.02,
        5e-3,
        frozenset({"address:area"}),
    ),
    LevelDef("differs", "address differs", None, 0.05, 0.99292, frozenset({"address:differs"})),
)


def explain_address(level_def: LevelDef, left: PreparedRow, right: PreparedRow) -> list[str]:
    def place(row: PreparedRow) -> str:
        parts = [row.get("street"), " ".join(str(p) for p in (row.get("postal_code"), row.get("city")) if p)]
        return ", ".join(str(part) for part in parts if part) or "–"

    if level_def.key in ("same", "same_street_city"):
        if place(left) == place(right):
            return ["address: same"]
        return [f"address: same ({place(left)} ~ {place(right)})"]
    if level_def.key == "similar_street":
        return [f"address: similar ({place(left)} ~ {place(right)})"]
    if level_def.key == "same_postal_code":
        return [f"address: same postal code {_shown(left.get('postal_key'))}, other street"]
    if level_def.key == "same_city":
        return [f"address: same city {_shown(left.get('city'))}, other street"]
    return [f"address: differs ({place(left)} vs {place(right)})"]


def address_comparison() -> ComparisonDef:
    return ComparisonDef("address", _NO_ADDRESS, ADDRESS_LEVELS, explain_address, "street, postal code, city")


# ---------------------------------------------------------------- phone

PHONE_COLUMNS = ("phone", "mobile", "phone_e164", "mobile_e164")


def prepare_phones(record: Mapping[str, Any], default_region: str) -> dict[str, Any]:
    phone, mobile = _text(record, "phone"), _text(record, "mobile")
    phone_e164 = norm.phone_e164(phone, default_region) if phone else None
    mobile_e164 = norm.phone_e164(mobile, default_region) if mobile else None
    return {"phone": phone, "mobile": mobile, "phone_e164": phone_e164, "mobile_e164": mobile_e164}


_NO_PHONE = (
    '("phone_e164_l" IS NULL AND "mobile_e164_l" IS NULL) OR ("phone_e164_r" IS NULL AND "mobile_e164_r" IS NULL)'
)
_ANY_NUMBER_SHARED = (
    '("phone_e164_l" = "phone_e164_r" OR "phone_e164_l" = "mobile_e164_r" OR "mobile_e164_l" = "phone_e164_r")'
)

PHONE_LEVELS = (
    LevelDef(
        "same_mobile",
        "same mobile number",
        level(same("mobile_e164")),
        0.3,
        1e-6,
        frozenset({"phone:same", "phone:mobile"}),
    ),
    LevelDef("same_number", "a number in common", level(_ANY_NUMBER_SHARED), 0.45, 2e-5, frozenset({"phone:same"})),
    LevelDef("differs", "numbers differ", None, 0.25, 0.999979, frozenset({"phone:differs"})),
)


def _numbers(row: PreparedRow) -> set[str]:
    return {str(row[key]) for key in ("phone_e164", "mobile_e164") if row.get(key)}


def explain_phone(level_def: LevelDef, left: PreparedRow, right: PreparedRow) -> list[str]:
    if level_def.key == "same_mobile":
        return [f"mobile: same number ({left.get('mobile_e164')})"]
    if level_def.key == "same_number":
        shared = sorted(_numbers(left) & _numbers(right))
        return [f"phone: same number ({', '.join(shared)})"]
    return [f"phone: differs ({', '.join(sorted(_numbers(left)))} vs {', '.join(sorted(_numbers(right)))})"]


def phone_comparison() -> ComparisonDef:
    return ComparisonDef("phone", _NO_PHONE, PHONE_LEVELS, explain_phone, "phone and mobile, E.164")


# ---------------------------------------------------------------- e-mail

EMAIL_COLUMNS = (
    "email",
    "email_address",
    "email_local",
    "email_domain",
    "email_org_domain",
    "email_personal",
)

# Role mailboxes say nothing about which person wrote them.
_ROLE_LOCAL_PARTS = frozenset(
    [
        "info",
        "kontakt",
        "contact",
        "office",
        "buero",
        "mail",
        "post",
        "service",
        "support",
        "sales",
        "vertrieb",
        "einkauf",
        "verkauf",
        "team",
        "hallo",
        "hello",
        "hr",
        "personal",
        "rechnung",
        "rechnungen",
        "invoice",
        "billing",
        "buchhaltung",
        "empfang",
        "zentrale",
        "verwaltung",
        "admin",
        "webmaster",
        "noreply",
        "no-reply",
        "marketing",
        "presse",
    ]
)


def prepare_email(record: Mapping[str, Any], last_fold: str | None) -> dict[str, Any]:
    raw = _text(record, "email")
    address = norm.email(raw) if raw else None
    local, domain = address.rsplit("@", 1) if address and "@" in address else (None, None)
    local_folded = norm.fold(local) if local else None
    # mueller@firma.de or info@firma.de could belong to anyone called Müller there, or to anyone.
    personal = bool(
        local
        and local not in _ROLE_LOCAL_PARTS
        and not (last_fold and local_folded and local_folded.replace(" ", "") == last_fold.replace(" ", ""))
    )
    return {
        "email": raw,
        "email_address": address,
        "email_local": local,
        "email_domain": domain,
        "email_org_domain": domain if domain and domain not in FREEMAIL_DOMAINS else None,
        "email_personal": personal if address else None,
    }


EMAIL_LEVELS = (
    LevelDef(
        "same_personal",
        "same personal address",
        level(f'{same("email_address")} AND "email_personal_l" AND "email_personal_r"'),
        0.72,
        1e-6,
        frozenset({"email:same", "email:personal"}),
    ),
    LevelDef(
        "same_shared",
        "same shared or role address",
        level(same("email_address")),
        0.05,
        5e-5,
        frozenset({"email:same", "email:shared"}),
    ),
    LevelDef(
        "same_local_part",
        "same personal local part, other domain",
        level(f'{same("email_local")} AND "email_personal_l" AND "email_personal_r"'),
        # Weak: first.last@ repeats the name, which the name comparison has already counted.
        0.04,
        5e-4,
        frozenset({"email:local"}),
    ),
    LevelDef(
        "other_personal_same_domain",
        "different personal addresses at the same organisation",
        level(f'{same("email_org_domain")} AND "email_personal_l" AND "email_personal_r"'),
        0.03,
        4e-4,
        frozenset({"email:domain", "email:different_personal"}),
    ),
    LevelDef(
        "same_domain",
        "same organisation domain",
        level(same("email_org_domain")),
        0.05,
        1e-4,
        frozenset({"email:domain"}),
    ),
    LevelDef("differs", "addresses differ", None, 0.11, 0.998895, frozenset({"email:differs"})),
)


def different_mailboxes_rule(personal_evidence_facts: tuple[str, ...]) -> PostRule:
    """Two different personal mailboxes at one organisation usually belong to two people.

    Fellegi-Sunter counts a shared domain as agreement (it is rare among random pairs); among
    colleagues it is the normal case and the differing local parts are what matters.
    """

    def rule(pair: PairView) -> RuleOutcome | None:
        if not pair.has("email:different_personal"):
            return None
        if any(pair.has(fact) for fact in personal_evidence_facts):
            return None
        return RuleOutcome(
            reason="rule: different personal e-mail addresses at one organisation: needs review",
            cap_at_possible=True,
        )

    return rule


def explain_email(level_def: LevelDef, left: PreparedRow, right: PreparedRow) -> list[str]:
    if level_def.key == "same_personal":
        return [f"email: same address ({left.get('email_address')})"]
    if level_def.key == "same_shared":
        return [f"email: same shared mailbox ({left.get('email_address')})"]
    if level_def.key == "same_local_part":
        return [f"email: same local part ({left.get('email_address')} ~ {right.get('email_address')})"]
    if level_def.key == "other_personal_same_domain":
        return [
            f"email: different addresses at {left.get('email_org_domain')} "
            f"({left.get('email_address')} vs {right.get('email_address')})"
        ]
    if level_def.key == "same_domain":
        return [f"email: same domain ({left.get('email_org_domain')})"]
    return [f"email: differs ({left.get('email_address')} vs {right.get('email_address')})"]


def email_comparison() -> ComparisonDef:
    return ComparisonDef("email", either_null("email_address"), EMAIL_LEVELS, explain_email, "e-mail address")


# ---------------------------------------------------------------- company name

COMPANY_COLUMNS = ("company", "company_key", "company_phonetic")


def prepare_company(raw: Any) -> dict[str, Any]:
    name = norm.clean_text(str(raw)) if norm.text_or_none(raw) else None
    key = norm.company_key(name) if name else None
    key = norm.fold(key) if key else None
    return {
        "company": name,
        "company_key": key,
        "company_phonetic": cologne_phonetic(key.replace(" ", "")) or None if key else None,
    }


def company_levels(m_same: float, u_same: float) -> tuple[LevelDef, ...]:
    return (
        LevelDef(
            "same",
            "same company name (legal form ignored)",
            level(same("company_key")),
            m_same,
            u_same,
            frozenset({"company:same"}),
        ),
        LevelDef(
            "similar",
            "similar company name",
            level(
                f"({jaro_winkler_at_least('company_key', 0.92)} OR "
                f'({edits_within("company_key", 2)} AND length("company_key_l") > 6))'
            ),
            0.06,
            u_same / 2,
            frozenset({"company:similar"}),
        ),
        LevelDef(
            "differs",
            "company names differ",
            None,
            1 - m_same - 0.06,
            1 - 1.5 * u_same,
            frozenset({"company:differs"}),
        ),
    )


def explain_company(level_def: LevelDef, left: PreparedRow, right: PreparedRow) -> list[str]:
    left_name, right_name = _shown(left.get("company")), _shown(right.get("company"))
    if level_def.key == "same":
        return ["company: same" if left_name == right_name else f"company: same ({left_name} ~ {right_name})"]
    if level_def.key == "similar":
        return [f"company: similar ({left_name} ~ {right_name})"]
    return [f"company: differs ({left_name} vs {right_name})"]


def company_comparison(m_same: float = 0.85, u_same: float = 2e-3) -> ComparisonDef:
    return ComparisonDef(
        "company",
        either_null("company_key"),
        company_levels(m_same, u_same),
        explain_company,
        "company name without legal form",
    )
