"""German-aware normalisation of master data: pure functions, no I/O.

Each ``normalize_*`` function returns the canonical form or raises :class:`InvalidValue`;
each ``*_key`` function returns a lossy key meant only for comparing records.
"""

from einklang.normalize.address import normalize_postal_code, normalize_street, split_street, street_key
from einklang.normalize.company import company_key, legal_form
from einklang.normalize.country import country_from_region, normalize_country
from einklang.normalize.email import normalize_email
from einklang.normalize.errors import InvalidValue
from einklang.normalize.names import (
    PersonName,
    join_person_name,
    name_key,
    normalize_salutation,
    parse_person_name,
    split_full_name,
    split_name_prefix,
)
from einklang.normalize.phone import normalize_phone, normalize_phone_keeping_extension
from einklang.normalize.text import clean_text, fold

__all__ = [
    "InvalidValue",
    "PersonName",
    "clean_text",
    "company_key",
    "country_from_region",
    "fold",
    "join_person_name",
    "legal_form",
    "name_key",
    "normalize_country",
    "normalize_email",
    "normalize_phone",
    "normalize_phone_keeping_extension",
    "normalize_postal_code",
    "normalize_salutation",
    "normalize_street",
    "parse_person_name",
    "split_full_name",
    "split_name_prefix",
    "split_street",
    "street_key",
]
