"""The ``contact`` spec: a person as kept in an address book, ERP or CRM."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from einklang.match import field_rules, fields
from einklang.match._normalize import text_or_none
from einklang.match.names import (
    INITIAL_PAIRS_SQL,
    NAME_COLUMNS,
    close_names_rule,
    first_name_drop,
    first_name_rule,
    initial_only_rule,
    last_name_changed_rule,
    missing_first_name_rule,
    name_comparison,
    name_only_rule,
    prepare_name,
)
from einklang.match.spec import ListBlock, MatchSpec

CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "title",
    "company",
    "street",
    "postal_code",
    "city",
    "country",
    "phone",
    "mobile",
    "email",
)

# Only these belong to one person; a switchboard number, a shared mailbox or an address do not.
PERSONAL_EVIDENCE = ("phone:mobile", "email:personal")
CORROBORATION = ("address:same", "address:similar", "phone:same", "email:same", "company:same")
FIRST_NAME_DROP = first_name_drop(PERSONAL_EVIDENCE)


def prepare_contact(record: Mapping[str, Any], default_region: str) -> dict[str, Any]:
    prepared = prepare_name(record.get("first_name"), record.get("last_name"))
    prepared["title"] = text_or_none(record.get("title"))
    prepared.update(fields.prepare_address(record, default_region))
    prepared.update(fields.prepare_phones(record, default_region))
    prepared.update(fields.prepare_email(record, prepared["last_fold"]))
    prepared.update(fields.prepare_company(record.get("company")))
    return prepared


CONTACT_SPEC = MatchSpec(
    name="contact",
    fields=CONTACT_FIELDS,
    prepare_record=prepare_contact,
    comparisons=(
        name_comparison(),
        fields.address_comparison(),
        fields.phone_comparison(),
        fields.email_comparison(),
        fields.company_comparison(),
    ),
    blocking_rules=(
        # Names alone would be quadratic in common names (thousands of Thomas Müllers in a
        # national list), and a name alone never makes a sure duplicate: pair names only within
        # a postal region, a city, an organisation or a street; e-mail and phone rules below find
        # people who moved.
        "l.last_phonetic = r.last_phonetic AND l.first_phonetic = r.first_phonetic "
        "AND substr(l.postal_key, 1, 2) = substr(r.postal_key, 1, 2)",
        # Without a postal code (or with a wrong one) the city places the name.
        "l.last_phonetic = r.last_phonetic AND l.first_phonetic = r.first_phonetic AND l.city_fold = r.city_fold",
        "l.last_phonetic = r.last_phonetic AND l.first_phonetic = r.first_phonetic "
        "AND l.email_org_domain = r.email_org_domain",
        # The same person at the same company, with another mail domain or none, and no postcode.
        "l.last_phonetic = r.last_phonetic AND l.company_key = r.company_key",
        "l.first_phonetic = r.last_phonetic AND l.last_phonetic = r.first_phonetic "
        "AND substr(l.postal_key, 1, 2) = substr(r.postal_key, 1, 2)",
        "l.first_phonetic = r.last_phonetic AND l.last_phonetic = r.first_phonetic AND l.city_fold = r.city_fold",
        # Swapped, and the given name reduced to an initial or misspelt, without a postal code.
        "l.first_phonetic = r.last_phonetic AND l.city_fold = r.city_fold",
        "l.last_phonetic = r.first_phonetic AND l.city_fold = r.city_fold",
        "l.last_phonetic = r.last_phonetic AND l.postal_key = r.postal_key",
        "l.first_phonetic = r.first_phonetic AND l.postal_key = r.postal_key",
        # Swapped fields, where an initial or a typo spoils the swapped-name rule above.
        "l.first_phonetic = r.last_phonetic AND l.postal_key = r.postal_key",
        "l.last_phonetic = r.first_phonetic AND l.postal_key = r.postal_key",
        "l.postal_key = r.postal_key AND l.street_key = r.street_key AND l.first_initial = r.first_initial",
        # A typo in the surname changes its phonetic code; the street and city still place it.
        "l.street_key = r.street_key AND l.city_fold = r.city_fold AND l.first_initial = r.first_initial",
        # Without street and postal code on one side, only the city places a name; a typo in the
        # given name changes its code (Philipp/Pihlipp), one in the surname changes that code.
        "l.last_phonetic = r.last_phonetic AND l.first_initial = r.first_initial AND l.city_fold = r.city_fold",
        "l.first_fold = r.first_fold AND substr(l.last_fold, 1, 2) = substr(r.last_fold, 1, 2) "
        "AND l.city_fold = r.city_fold",
        # Colleagues by initials: a typo in the surname and an initial for the given name.
        "l.company_key = r.company_key AND l.first_initial = r.first_initial "
        "AND substr(l.last_fold, 1, 1) = substr(r.last_fold, 1, 1)",
        # Any address of one record equal to any of the other's; any number likewise.
        ListBlock("email_addresses"),
        ListBlock("phone_numbers"),
    ),
    training_blocking_rules=(
        "l.postal_key = r.postal_key AND l.street_key = r.street_key",
        "l.last_phonetic = r.last_phonetic AND l.first_phonetic = r.first_phonetic",
    ),
    deterministic_rules=(
        "l.email_address = r.email_address AND l.first_fold = r.first_fold",
        "l.mobile_e164 = r.mobile_e164",
        "l.first_fold = r.first_fold AND l.last_fold = r.last_fold AND l.street_key = r.street_key",
    ),
    post_rules=(
        first_name_rule(FIRST_NAME_DROP),
        close_names_rule(PERSONAL_EVIDENCE),
        missing_first_name_rule(PERSONAL_EVIDENCE),
        initial_only_rule(PERSONAL_EVIDENCE),
        fields.different_mailboxes_rule(("phone:mobile",)),
        field_rules.own_surname_mailboxes_rule(PERSONAL_EVIDENCE),
        field_rules.other_house_number_rule(PERSONAL_EVIDENCE),
        last_name_changed_rule(),
        name_only_rule(CORROBORATION),
    ),
    drops=(FIRST_NAME_DROP,),
    ambiguity_sql=INITIAL_PAIRS_SQL,
    probability_two_random_records_match=1e-4,
    prepared_columns=(
        *NAME_COLUMNS,
        "title",
        *fields.ADDRESS_COLUMNS,
        *fields.PHONE_COLUMNS,
        *fields.EMAIL_COLUMNS,
        *fields.COMPANY_COLUMNS,
    ),
    list_columns=fields.LIST_COLUMNS,
    bool_columns=fields.BOOL_COLUMNS,
)
