"""Address, phone, e-mail and company: comparison columns, comparisons and their words.

Shared by the contact, company and person specs. Street, postal code and city are one joint
comparison because they are strongly correlated; counting them separately would triple the
evidence of one shared address (which is exactly what colleagues have).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from einklang.match import _normalize as norm
from einklang.match._sql import edits_within, either_null, jaro_winkler_at_least, level, same
from einklang.match.phonetic import cologne_phonetic
from einklang.match.spec import ComparisonDef, LevelDef, LevelSql, PairView, PostRule, PreparedRow, RuleOutcome
from einklang.normalize.email import FREEMAIL_DOMAINS

if TYPE_CHECKING:
    from splink.internals.comparison_level_creator import ComparisonLevelCreator


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
    # A street missing on one side contradicts nothing: the same place with a gap is more
    # likely the same address than the same place with another street.
    LevelDef(
        "same_postal_code_street_missing",
        "same postal code, street missing on one side",
        level(f"{same('postal_key')} AND {either_null('street_key')}"),
        0.04,
        4e-4,
        frozenset({"address:area", "address:partial"}),
    ),
    LevelDef(
        "same_city_details_missing",
        "same city, street or postal code missing on one side, none differs",
        level(f"{same('city_fold')} AND {either_null('street_key')} AND {either_null('postal_key')}"),
        0.03,
        1.5e-3,
        frozenset({"address:area", "address:partial"}),
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
    if level_def.key == "same_postal_code_street_missing":
        return [f"address: same postal code {_shown(left.get('postal_key'))}, street missing on one side"]
    if level_def.key == "same_city_details_missing":
        return [f"address: same city {_shown(left.get('city'))}, no street or postal code on one side"]
    if level_def.key == "same_postal_code":
        return [f"address: same postal code {_shown(left.get('postal_key'))}, other street"]
    if level_def.key == "same_city":
        return [f"address: same city {_shown(left.get('city'))}, other street"]
    return [f"address: differs ({place(left)} vs {place(right)})"]


def address_comparison() -> ComparisonDef:
    return ComparisonDef("address", _NO_ADDRESS, ADDRESS_LEVELS, explain_address, "street, postal code, city")


# ---------------------------------------------------------------- phone

PHONE_FIELDS = ("phone", "phone2", "mobile")
"""Every number of a record is compared with every number of the other (a fax is not a person's)."""
PHONE_COLUMNS = (
    "phone",
    "mobile",
    "phone_e164",
    "mobile_e164",
    "phone_numbers",
    "mobile_numbers",
    "has_landline",
)
PHONE_LIST_COLUMNS = ("phone_numbers", "mobile_numbers")


def prepare_phones(record: Mapping[str, Any], default_region: str) -> dict[str, Any]:
    raw = {name: _text(record, name) for name in PHONE_FIELDS}
    e164 = {name: norm.phone_e164(value, default_region) if value else None for name, value in raw.items()}
    numbers = norm.distinct([e164["phone"], e164["mobile"], e164["phone2"]])
    # A number in the mobile field, or a mobile number in any field, is a personal one.
    mobiles = norm.distinct([e164["mobile"], *(n for n in numbers or () if norm.is_mobile_number(n))])
    return {
        "phone": raw["phone"] or raw["phone2"],
        "mobile": raw["mobile"],
        "phone_e164": e164["phone"] or e164["phone2"],
        "mobile_e164": e164["mobile"],
        "phone_numbers": numbers,
        "mobile_numbers": mobiles,
        "has_landline": any(number not in (mobiles or ()) for number in numbers or ()),
    }


def array_overlaps(column: str) -> LevelSql:
    """The two records' lists share at least one value (Splink writes it in each engine's dialect)."""

    def build() -> ComparisonLevelCreator:
        import splink.comparison_level_library as cll

        return cll.ArrayIntersectLevel(column, min_intersection=1)

    return build


PHONE_LEVELS = (
    LevelDef(
        "same_mobile",
        "same mobile number",
        array_overlaps("mobile_numbers"),
        0.3,
        1e-6,
        frozenset({"phone:same", "phone:mobile"}),
    ),
    LevelDef(
        "same_number",
        "a number in common",
        array_overlaps("phone_numbers"),
        0.45,
        2e-5,
        frozenset({"phone:same"}),
    ),
    # One record has only a mobile number, the other only landlines: nothing to compare (people
    # have both), so neither agreement nor disagreement.
    LevelDef(
        "other_kinds",
        "no number of the same kind (mobile vs landline)",
        level(
            '(("mobile_numbers_l" IS NULL OR "mobile_numbers_r" IS NULL) '
            'AND NOT ("has_landline_l" AND "has_landline_r"))'
        ),
        0.15,
        0.15,
        frozenset({"phone:other_kinds"}),
    ),
    LevelDef("differs", "numbers differ", None, 0.25, 0.999979, frozenset({"phone:differs"})),
)


def as_list(value: Any) -> list[str]:
    """A list column's value as read back from an engine (None, a list, or a NumPy array)."""
    if value is None:
        return []
    return [str(item) for item in value]


def _shared(left: PreparedRow, right: PreparedRow, column: str) -> list[str]:
    right_values = set(as_list(right.get(column)))
    return [value for value in as_list(left.get(column)) if value in right_values]


def explain_phone(level_def: LevelDef, left: PreparedRow, right: PreparedRow) -> list[str]:
    if level_def.key == "same_mobile":
        return [f"mobile: same number ({', '.join(_shared(left, right, 'mobile_numbers'))})"]
    if level_def.key == "same_number":
        return [f"phone: same number ({', '.join(_shared(left, right, 'phone_numbers'))})"]
    left_numbers = ", ".join(as_list(left.get("phone_numbers")))
    right_numbers = ", ".join(as_list(right.get("phone_numbers")))
    if level_def.key == "other_kinds":
        return [f"phone: not comparable, a mobile vs landlines ({left_numbers} vs {right_numbers})"]
    return [f"phone: differs ({left_numbers} vs {right_numbers})"]


def phone_comparison() -> ComparisonDef:
    return ComparisonDef(
        "phone", either_null("phone_numbers"), PHONE_LEVELS, explain_phone, "all phone and mobile numbers, E.164"
    )


# ---------------------------------------------------------------- e-mail

EMAIL_FIELDS = ("email", "email2", "email3")
EMAIL_COLUMNS = (
    "email",
    "email_address",
    "email_local",
    "email_domain",
    "email_org_domain",
    "email_personal",
    "email_addresses",
    "email_personal_addresses",
    "email_personal_locals",
    "email_personal_domains",
    "email_org_domains",
)
EMAIL_LIST_COLUMNS = (
    "email_addresses",
    "email_personal_addresses",
    "email_personal_locals",
    "email_personal_domains",
    "email_org_domains",
)
LIST_COLUMNS = (*PHONE_LIST_COLUMNS, *EMAIL_LIST_COLUMNS)
BOOL_COLUMNS = ("email_personal", "has_landline")

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


def _is_personal(local: str, last_fold: str | None) -> bool:
    # mueller@firma.de or info@firma.de could belong to anyone called Müller there, or to anyone.
    if local in _ROLE_LOCAL_PARTS:
        return False
    local_folded = norm.fold(local)
    return not (last_fold and local_folded and local_folded.replace(" ", "") == last_fold.replace(" ", ""))


def prepare_email(record: Mapping[str, Any], last_fold: str | None) -> dict[str, Any]:
    raws = [_text(record, name) for name in EMAIL_FIELDS]
    addresses = norm.distinct([norm.email(raw) if raw else None for raw in raws]) or []
    addresses = [address for address in addresses if "@" in address]
    personal = [address for address in addresses if _is_personal(address.rsplit("@", 1)[0], last_fold)]
    org_domains = [address.rsplit("@", 1)[1] for address in addresses]
    org_domains = [domain for domain in org_domains if domain not in FREEMAIL_DOMAINS]
    personal_org_domains = [address.rsplit("@", 1)[1] for address in personal]
    first = addresses[0] if addresses else None
    local, domain = first.rsplit("@", 1) if first else (None, None)
    return {
        "email": next((raw for raw in raws if raw), None),
        "email_address": first,
        "email_local": local,
        "email_domain": domain,
        "email_org_domain": domain if domain and domain not in FREEMAIL_DOMAINS else None,
        "email_personal": (first in personal) if first else None,
        "email_addresses": addresses or None,
        "email_personal_addresses": personal or None,
        "email_personal_locals": norm.distinct([address.rsplit("@", 1)[0] for address in personal]),
        "email_personal_domains": norm.distinct(
            [domain for domain in personal_org_domains if domain not in FREEMAIL_DOMAINS]
        ),
        "email_org_domains": norm.distinct(list(org_domains)),
    }


EMAIL_LEVELS = (
    LevelDef(
        "same_personal",
        "same personal address",
        array_overlaps("email_personal_addresses"),
        0.72,
        1e-6,
        frozenset({"email:same", "email:personal"}),
    ),
    LevelDef(
        "same_shared",
        "same shared or role address",
        array_overlaps("email_addresses"),
        0.05,
        5e-5,
        frozenset({"email:same", "email:shared"}),
    ),
    LevelDef(
        "same_local_part",
        "same personal local part, other domain",
        array_overlaps("email_personal_locals"),
        # Weak: first.last@ repeats the name, which the name comparison has already counted.
        0.04,
        5e-4,
        frozenset({"email:local"}),
    ),
    LevelDef(
        "near_personal_same_domain",
        "personal addresses a few letters apart at one domain",
        # daniel.peters@ and daniela.peters@: a family's pattern, or a colleague's; never a typo
        # of the same person's address in practice, whose addresses differ wholly.
        level(
            f'{same("email_domain")} AND "email_personal_l" AND "email_personal_r" AND {edits_within("email_local", 2)}'
        ),
        0.01,
        3e-4,
        frozenset({"email:domain", "email:different_personal", "email:near"}),
    ),
    LevelDef(
        "other_personal_same_domain",
        "different personal addresses at the same organisation",
        array_overlaps("email_personal_domains"),
        0.03,
        4e-4,
        frozenset({"email:domain", "email:different_personal"}),
    ),
    LevelDef(
        "same_domain",
        "same organisation domain",
        array_overlaps("email_org_domains"),
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
        where = "at one domain" if pair.has("email:near") else "at one organisation"
        return RuleOutcome(
            reason=f"rule: different personal e-mail addresses {where}: needs review",
            cap_at_possible=True,
        )

    return rule


def explain_email(level_def: LevelDef, left: PreparedRow, right: PreparedRow) -> list[str]:
    def listed(row: PreparedRow) -> str:
        return ", ".join(as_list(row.get("email_addresses"))) or "–"

    if level_def.key == "same_personal":
        return [f"email: same address ({', '.join(_shared(left, right, 'email_personal_addresses'))})"]
    if level_def.key == "same_shared":
        return [f"email: same shared mailbox ({', '.join(_shared(left, right, 'email_addresses'))})"]
    if level_def.key == "same_local_part":
        return [f"email: same local part ({listed(left)} ~ {listed(right)})"]
    if level_def.key == "near_personal_same_domain":
        return [f"email: similar addresses ({left.get('email_address')} vs {right.get('email_address')})"]
    if level_def.key == "other_personal_same_domain":
        domains = ", ".join(_shared(left, right, "email_personal_domains"))
        return [f"email: different addresses at {domains} ({listed(left)} vs {listed(right)})"]
    if level_def.key == "same_domain":
        return [f"email: same domain ({', '.join(_shared(left, right, 'email_org_domains'))})"]
    return [f"email: differs ({listed(left)} vs {listed(right)})"]


def email_comparison() -> ComparisonDef:
    return ComparisonDef(
        "email", either_null("email_addresses"), EMAIL_LEVELS, explain_email, "all e-mail addresses of a record"
    )


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
