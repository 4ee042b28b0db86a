"""Attaching imported contacts to their company (account) where the target keeps companies apart.

Applies when the target system maps a ``company`` entity and the contact entity has a field
named ``account_id`` mapped in that system (it receives the account's native id).

A contact's company is matched by :func:`einklang.normalize.company_key` (legal form, umlauts and
"&/und" ignored) and confirmed by the postal code or the e-mail domain (a freemail domain
confirms nothing). One confirmed account: attached. No account with that name at all: a new
account is created (once per name and run). Anything else (a branch with the same name, a name
that only starts alike, several confirmed accounts) is *unsure* and goes to the review file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from einklang.connectors.base import NativeRecord
from einklang.importer.writes import PlannedCreate, TargetEntity, create_records
from einklang.model import CanonicalRecord, display
from einklang.normalize import InvalidValue, company_key, normalize_postal_code
from einklang.normalize.email import FREEMAIL_DOMAINS
from einklang.store.state import StateStore

COMPANY_ENTITY = "company"
ACCOUNT_REFERENCE_FIELD = "account_id"
# Contact fields an account created from a contact takes over (the person's own phone and
# e-mail stay with the person).
_ACCOUNT_FIELDS_FROM_CONTACT = {
    "company": "name",
    "street": "street",
    "postal_code": "postal_code",
    "city": "city",
    "country": "country",
}


@dataclass(frozen=True)
class AccountCandidate:
    native: NativeRecord
    record: CanonicalRecord
    confirmed_by: str | None  # "postal code" / "e-mail domain", None when only the name agrees

    def values_as_contact(self) -> dict[str, str]:
        """The account's values under the contact field names, for side-by-side review columns."""
        return {
            contact_field: display(self.record.get(account_field))
            for contact_field, account_field in _ACCOUNT_FIELDS_FROM_CONTACT.items()
            if self.record.get(account_field) is not None
        }


@dataclass
class AccountDecision:
    """What to do about one contact's company: attach, create, or ask (review)."""

    action: str  # "attach", "create", "review", "none"
    account_id: str | None = None
    candidates: list[AccountCandidate] = field(default_factory=list)
    reason: str = ""


def applies(target: TargetEntity) -> bool:
    config = target.config
    return (
        COMPANY_ENTITY in config.model.entities
        and target.entity != COMPANY_ENTITY
        and target.system in config.systems_of(COMPANY_ENTITY)
        and ACCOUNT_REFERENCE_FIELD in target.mapping.writable_fields()
    )


def email_domain(value: Any) -> str | None:
    text = display(value)
    if "@" not in text:
        return None
    domain = text.rsplit("@", 1)[1].lower()
    return None if domain in FREEMAIL_DOMAINS else domain


class CompanyLinker:
    """Accounts of the target, indexed by company key; creates accounts at most once per key."""

    def __init__(self, accounts: TargetEntity, default_region: str = "DE") -> None:
        self.accounts = accounts
        self.default_region = default_region
        self._by_key: dict[str, list[tuple[NativeRecord, CanonicalRecord]]] = {}
        self._by_first_word: dict[str, list[tuple[str, NativeRecord, CanonicalRecord]]] = {}
        self._created: dict[str, str] = {}
        for native, record in accounts.read_records():
            self._index(native, record)

    def _index(self, native: NativeRecord, record: CanonicalRecord) -> None:
        key = company_key(display(record.get("name")))
        if not key:
            return
        self._by_key.setdefault(key, []).append((native, record))
        self._by_first_word.setdefault(key.split()[0], []).append((key, native, record))

    def decide(self, contact: Mapping[str, Any]) -> AccountDecision:
        company = display(contact.get("company"))
        key = company_key(company) if company else ""
        if not key:
            return AccountDecision("none", reason="no company given")
        if key in self._created:
            return AccountDecision("attach", self._created[key], reason="account created earlier in this run")
        same_name = self._by_key.get(key, [])
        candidates = [
            AccountCandidate(native, record, self._confirmation(contact, record)) for native, record in same_name
        ]
        confirmed = [c for c in candidates if c.confirmed_by]
        if len(confirmed) == 1:
            chosen = confirmed[0]
            return AccountDecision(
                "attach", chosen.native.native_id, candidates, f"same company name and {chosen.confirmed_by}"
            )
        similar = [
            AccountCandidate(native, record, self._confirmation(contact, record))
            for other_key, native, record in self._by_first_word.get(key.split()[0], [])
            if other_key != key and (other_key.startswith(key + " ") or key.startswith(other_key + " "))
        ]
        if not candidates and not similar:
            return AccountDecision("create", reason=f"no account named like {company!r}")
        if len(confirmed) > 1:
            reason = f"{len(confirmed)} accounts named like {company!r} match: choose one"
        elif candidates:
            reason = f"an account named like {company!r} exists, but neither postal code nor e-mail domain agree"
        else:
            reason = f"accounts with a similar name to {company!r} exist"
        return AccountDecision("review", None, (confirmed or candidates) + similar, reason)

    def _confirmation(self, contact: Mapping[str, Any], account: CanonicalRecord) -> str | None:
        contact_postal = self._postal(contact.get("postal_code"), contact.get("country"))
        if contact_postal and contact_postal == self._postal(account.get("postal_code"), account.get("country")):
            return "postal code"
        domain = email_domain(contact.get("email"))
        if domain and domain == email_domain(account.get("email")):
            return "e-mail domain"
        return None

    def _postal(self, value: Any, country: Any) -> str | None:
        text = display(value)
        if not text:
            return None
        try:
            return normalize_postal_code(text, display(country) or self.default_region)
        except InvalidValue:
            return text

    def account_record(self, contact: Mapping[str, Any]) -> CanonicalRecord:
        wanted = set(self.accounts.fields)
        return {
            account_field: contact.get(contact_field)
            for contact_field, account_field in _ACCOUNT_FIELDS_FROM_CONTACT.items()
            if account_field in wanted and contact.get(contact_field) is not None
        }

    def create_account(
        self, store: StateStore, run_id: int | None, contact: Mapping[str, Any], cause: str
    ) -> str | None:
        """Create (once per company key) the account a contact names; return its native id."""
        key = company_key(display(contact.get("company")))
        if key in self._created:
            return self._created[key]
        outcome = create_records(store, self.accounts, run_id, [PlannedCreate(self.account_record(contact), cause)])[0]
        if outcome.native is None:
            return None
        self._created[key] = outcome.native.native_id
        self._index(outcome.native, self.accounts.canonical(outcome.native))
        return outcome.native.native_id
