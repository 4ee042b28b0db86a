"""Post-rules that read more than one field's prepared values: streets with house numbers, surnames in mailboxes.

They only cap pairs at "possible" (never drop), so they run in Python on the kept pairs alike
for every engine.
"""

from __future__ import annotations

import re
from typing import Any

from einklang.match import _normalize as norm
from einklang.match.fields import as_list
from einklang.match.spec import PairView, PostRule, PreparedRow, RuleOutcome


def _shown(value: Any) -> str:
    return str(value) if value not in (None, "") else "–"


_HOUSE_NUMBER = re.compile(r"^(\D+?)(\d+[a-z]?)$")


def _street_and_number(street_key: Any) -> tuple[str, str] | None:
    found = _HOUSE_NUMBER.match(str(street_key or ""))
    return (found.group(1), found.group(2)) if found else None


def other_house_number_rule(personal_evidence_facts: tuple[str, ...]) -> PostRule:
    """Birkenweg 13 and Birkenweg 32: one street, two houses; a namesake two doors down.

    The street comparison allows two edits, which covers a misspelt street name but also a
    wholly different house number. With nothing personal and no shared number or address in
    common, such a pair goes to a person.
    """

    def rule(pair: PairView) -> RuleOutcome | None:
        if not pair.has("address:similar") or pair.has_any((*personal_evidence_facts, "phone:same", "email:same")):
            return None
        left = _street_and_number(pair.left.get("street_key"))
        right = _street_and_number(pair.right.get("street_key"))
        if left is None or right is None or left[0] != right[0] or left[1] == right[1]:
            return None
        return RuleOutcome(
            reason=f"rule: same street, other house number ({left[1]} vs {right[1]}): needs review",
            cap_at_possible=True,
        )

    return rule


_TRAILING_DIGITS = re.compile(r"\d+$")


def _mailbox_spells_surname(row: PreparedRow) -> bool:
    """One of the record's addresses ends in its own surname: mayer@, a.mayer@, annamayer12@."""
    surname = str(row.get("last_fold") or "").replace(" ", "")
    if len(surname) < 3:
        return False
    for address in as_list(row.get("email_addresses")):
        local = norm.fold(address.rsplit("@", 1)[0]) or ""
        if _TRAILING_DIGITS.sub("", local.replace(" ", "")).endswith(surname):
            return True
    return False


def own_surname_mailboxes_rule(personal_evidence_facts: tuple[str, ...]) -> PostRule:
    """Frank and Franke, each with a mailbox spelling their own surname: two people.

    A typing error in a name field does not reach the mail server: when both records' addresses
    spell their (different) surnames, the names are two spellings in use, as colleagues Frank
    and Franke or Maier and Mayer have, not a typo; a person decides.
    """

    def rule(pair: PairView) -> RuleOutcome | None:
        if not pair.has("name:agrees") or pair.has_any((*personal_evidence_facts, "email:same")):
            return None
        left, right = pair.left, pair.right
        if not left.get("last_fold") or left.get("last_fold") == right.get("last_fold"):
            return None
        if not (_mailbox_spells_surname(left) and _mailbox_spells_surname(right)):
            return None
        return RuleOutcome(
            reason=(
                f"rule: surnames spelt differently in both records' own e-mail addresses "
                f"({_shown(left.get('last_name'))} vs {_shown(right.get('last_name'))}): needs review"
            ),
            cap_at_possible=True,
        )

    return rule
