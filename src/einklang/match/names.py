"""Person names: comparison columns, the joint first/last-name comparison, its words and rules.

First and last name are compared jointly rather than as two independent comparisons because
the interesting cases are combinations: swapped fields, a surname shared by colleagues with
different given names, an initial that fits. Independent comparisons would count a swapped
name twice as a mismatch and could not tell "same surname, other given name" (a colleague)
from "same surname, given name missing" (unknown).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from einklang.match import _normalize as norm
from einklang.match._sql import (
    both,
    differ_in_last_letter_only,
    edits_within,
    either_null,
    jaro_winkler_at_least,
    level,
    one_extends_other,
    same,
)
from einklang.match.given_names import given_name_key
from einklang.match.phonetic import cologne_phonetic
from einklang.match.spec import ComparisonDef, DropWhen, LevelDef, PairView, PostRule, PreparedRow, RuleOutcome

IdentityCheck = Callable[[PairView], bool]
"""Whether identifiers that only one person has (date of birth with an ID number) agree."""

NAME_COLUMNS = (
    "first_name",
    "last_name",
    "first_fold",
    "last_fold",
    "first_initial",
    "first_token",
    "first_phonetic",
    "last_phonetic",
    "first_key",
)


def prepare_name(first_raw: Any, last_raw: Any) -> dict[str, Any]:
    first_text = norm.clean_text(str(first_raw)) if norm.text_or_none(first_raw) else None
    last_text = norm.clean_text(str(last_raw)) if norm.text_or_none(last_raw) else None
    first, last = norm.split_person_name(first_text, last_text)
    first_fold = norm.fold(first) if first else None
    last_fold = norm.fold(last) if last else None
    # "T." and "T" are initials; keep them as a single letter so SQL can test length = 1.
    if first_fold and re.fullmatch(r"[a-z]( [a-z])*", first_fold):
        first_fold = first_fold[0]
    first_token = first_fold.split(" ")[0] if first_fold else None
    return {
        "first_name": first,
        "last_name": last,
        "first_fold": first_fold,
        "last_fold": last_fold,
        "first_initial": first_fold[0] if first_fold else None,
        "first_token": first_token,
        "first_phonetic": _blocking_code(first_fold),
        "last_phonetic": _blocking_code(last_fold.replace(" ", "") if last_fold else None),
        # The common given name this is, or the one it is a typing error of (None: not known).
        "first_key": given_name_key(first_fold),
    }


def _blocking_code(folded: str | None) -> str | None:
    """The phonetic code, plus any digits: "Muster12" is not "Muster7" (test data, numbered names).

    Without the digits every "Kunde<n>" of a generated or anonymised list would share one code,
    and blocking on it would pair everyone with everyone.
    """
    if not folded:
        return None
    digits = "".join(ch for ch in folded if ch.isdigit())
    code = cologne_phonetic(folded)
    return (f"{code}#{digits}" if digits else code) or None


_FIRST_EXACT = same("first_fold")
_LAST_EXACT = same("last_fold")
_FIRST_MISSING = either_null("first_fold")
_FIRST_INITIAL = f'(length("first_fold_l") = 1 OR length("first_fold_r") = 1) AND {same("first_initial")}'
# Hans vs Hans-Peter: one given name is the first part of the other's double name.
_FIRST_PART = f"{same('first_token')} AND NOT {_FIRST_EXACT}"
_FIRST_COMPATIBLE = f"(({_FIRST_INITIAL}) OR ({_FIRST_PART}))"
# Jan/Jana: a name plus an ending is another name. Only when one is spelt as a known given name:
# "Jaa" and "Jaan" are two misspellings, not two names.
_KNOWN_NAME_ON_EITHER_SIDE = (
    '(coalesce("first_key_l" = "first_fold_l", false) OR coalesce("first_key_r" = "first_fold_r", false))'
)
_NAME_EXTENDED = f"({one_extends_other('first_fold')} AND {_KNOWN_NAME_ON_EITHER_SIDE})"
_FIRST_FUZZY = (
    f'(length("first_fold_l") > 2 AND length("first_fold_r") > 2 '
    f"AND ({edits_within('first_fold', 1)} OR {jaro_winkler_at_least('first_fold', 0.9)}) "
    f"AND NOT {_NAME_EXTENDED} AND NOT {differ_in_last_letter_only('first_fold')})"
)
_LAST_FUZZY = (
    f'(length("last_fold_l") > 2 AND length("last_fold_r") > 2 AND ('
    f"{edits_within('last_fold', 1)} OR {jaro_winkler_at_least('last_fold', 0.9)} "
    f"OR ({edits_within('last_fold', 2)} AND {jaro_winkler_at_least('last_fold', 0.85)} "
    f'AND length("last_fold_l") > 4) '
    f"OR ({same('last_phonetic')} AND {jaro_winkler_at_least('last_fold', 0.8)})))"
)
_SWAPPED = '"first_fold_l" = "last_fold_r" AND "last_fold_l" = "first_fold_r"'
# "Haas Philipp" vs "P. Haas": swapped, and the given name reduced to its initial on one side.
_SWAPPED_INITIAL = (
    # Surname in l's first field: l's last field and r's first field hold the given name.
    '(("first_fold_l" = "last_fold_r" AND ('
    '(length("last_fold_l") = 1 AND substr("first_fold_r", 1, 1) = "last_fold_l") OR '
    '(length("first_fold_r") = 1 AND substr("last_fold_l", 1, 1) = "first_fold_r"))) OR '
    # Surname in r's first field: l's first field and r's last field hold the given name.
    '("last_fold_l" = "first_fold_r" AND ('
    '(length("first_fold_l") = 1 AND substr("last_fold_r", 1, 1) = "first_fold_l") OR '
    '(length("last_fold_r") = 1 AND substr("first_fold_l", 1, 1) = "last_fold_r"))))'
)
_SWAPPED_FUZZY = (
    f"({jaro_winkler_at_least('first_fold', 0.88, 'last_fold')} "
    f"AND {jaro_winkler_at_least('last_fold', 0.88, 'first_fold')} "
    'AND ("first_fold_l" = "last_fold_r" OR "last_fold_l" = "first_fold_r" '
    f"OR ({jaro_winkler_at_least('first_fold', 0.92, 'last_fold')} "
    f"AND {jaro_winkler_at_least('last_fold', 0.92, 'first_fold')})))"
)

# Both given names are known names (or one typing error from exactly one), the same or two.
# Not when one spelling is a known name plus an ending (Thomas/Thomass): endings are where names
# differ (Paul/Paula), so such a pair keeps the stricter levels below and a person looks at it.
_FIRST_SAME_NAME = f"{same('first_key')} AND NOT {_FIRST_EXACT} AND NOT {_NAME_EXTENDED}"
_FIRST_OTHER_NAME = f"{both('first_key')} AND NOT {same('first_key')}"
# Lena/Lea, Anna/Ana: two names, but also one typing error apart, or two when one side is no name
# itself (Leena/Lea: a typo of Lena); Jan/Jana, Maria/Mario are not typing errors (they differ
# at the end, where the names of relatives do), nor are Petra/Peter (two names, two edits).
_FIRST_TYPO_SPELLING = '("first_key_l" <> "first_fold_l" OR "first_key_r" <> "first_fold_r")'
_FIRST_OTHER_NAME_TYPO_APART = (
    f"{_FIRST_OTHER_NAME} AND ({edits_within('first_fold', 1)} "
    f"OR ({edits_within('first_fold', 2)} AND {_FIRST_TYPO_SPELLING})) "
    f"AND NOT {one_extends_other('first_fold')} AND NOT {differ_in_last_letter_only('first_fold')}"
)

# Both given names present and at most two typing errors apart (Lena/Lea, Jörg/Jierg): a typo or
# another person (colleagues, relatives); never decided without a person.
# Jan/Jana and Maria/Mario are the pairs of names relatives have: those stay "differs"; so do
# names with another first letter (Anna/Tanja), which typing errors rarely touch.
_FIRST_CLOSE = (
    f'(length("first_fold_l") > 1 AND length("first_fold_r") > 1 AND {same("first_initial")} '
    f"AND {edits_within('first_fold', 2)} "
    f"AND NOT {_NAME_EXTENDED} AND NOT {differ_in_last_letter_only('first_fold')})"
)
_LAST_SIMILAR = f"({_LAST_EXACT} OR {_LAST_FUZZY})"
# "Hqhn Maximilian" vs "Maximilian Hahn": swapped, one of the two names with typing errors.
_SWAPPED_CLOSE = (
    '(("first_fold_l" = "last_fold_r" AND damerau_levenshtein("last_fold_l", "first_fold_r") <= 2 '
    'AND length("last_fold_l") > 2 AND length("first_fold_r") > 2) OR '
    '("last_fold_l" = "first_fold_r" AND damerau_levenshtein("first_fold_l", "last_fold_r") <= 2 '
    'AND length("first_fold_l") > 2 AND length("last_fold_r") > 2))'
)


def _facts(*tags: str) -> frozenset[str]:
    return frozenset(tags)


NAME_LEVELS: tuple[LevelDef, ...] = (
    LevelDef(
        "exact",
        "first and last name equal",
        level(f"{_FIRST_EXACT} AND {_LAST_EXACT}"),
        0.72,
        2e-5,
        _facts("last:exact", "first:exact", "name:agrees"),
    ),
    LevelDef(
        "swapped",
        "first and last name swapped",
        level(_SWAPPED),
        0.02,
        1e-6,
        _facts("name:swapped", "name:agrees"),
    ),
    LevelDef(
        "last_exact_first_typo",
        "last name equal, first name a typing error of the same given name",
        level(f"{_LAST_EXACT} AND {_FIRST_SAME_NAME}"),
        0.05,
        1e-5,
        _facts("last:exact", "first:typo", "name:agrees"),
    ),
    LevelDef(
        "last_fuzzy_first_typo",
        "last name similar, first name a typing error of the same given name",
        level(f"{_LAST_FUZZY} AND {_FIRST_SAME_NAME}"),
        0.02,
        2e-5,
        _facts("last:fuzzy", "first:typo", "name:agrees"),
    ),
    LevelDef(
        "last_similar_first_other_name_typo_apart",
        "last name equal or similar, first names two given names a typing error apart",
        level(f"{_LAST_SIMILAR} AND {_FIRST_OTHER_NAME_TYPO_APART}"),
        0.01,
        2e-4,
        _facts("last:similar", "first:close", "name:close"),
    ),
    LevelDef(
        "last_similar_first_other_name",
        "last name equal or similar, first names two different given names",
        level(f"{_LAST_SIMILAR} AND {_FIRST_OTHER_NAME}"),
        0.005,
        1.5e-3,
        _facts("last:similar", "first:differs"),
    ),
    LevelDef(
        "last_exact_first_fuzzy",
        "last name equal, first name similar",
        level(f"{_LAST_EXACT} AND {_FIRST_FUZZY}"),
        0.05,
        1e-5,
        _facts("last:exact", "first:fuzzy", "name:agrees"),
    ),
    LevelDef(
        "last_fuzzy_first_exact",
        "last name similar, first name equal",
        level(f"{_LAST_FUZZY} AND {_FIRST_EXACT}"),
        0.06,
        2e-5,
        _facts("last:fuzzy", "first:exact", "name:agrees"),
    ),
    LevelDef(
        "last_exact_first_compatible",
        "last name equal, first name an initial or part of it",
        level(f"{_LAST_EXACT} AND {_FIRST_COMPATIBLE}"),
        0.04,
        1e-4,
        _facts("last:exact", "first:compatible", "name:agrees"),
    ),
    LevelDef(
        "last_fuzzy_first_similar",
        "last name similar, first name similar or compatible",
        level(f"{_LAST_FUZZY} AND ({_FIRST_FUZZY} OR {_FIRST_COMPATIBLE})"),
        0.02,
        2e-5,
        _facts("last:fuzzy", "first:fuzzy_or_compatible", "name:agrees"),
    ),
    LevelDef(
        "swapped_initial",
        "first and last name swapped, given name as initial",
        level(_SWAPPED_INITIAL),
        0.005,
        1e-6,
        _facts("name:swapped", "first:initial", "name:agrees"),
    ),
    LevelDef(
        "swapped_fuzzy",
        "first and last name swapped, with typos",
        level(_SWAPPED_FUZZY),
        0.005,
        1e-6,
        _facts("name:swapped", "name:agrees"),
    ),
    LevelDef(
        "swapped_close",
        "first and last name swapped, one of them with typing errors",
        level(_SWAPPED_CLOSE),
        0.005,
        2e-6,
        _facts("name:swapped", "name:close"),
    ),
    LevelDef(
        "last_similar_first_close",
        "last name equal or similar, first names a typing error apart",
        level(f"{_LAST_SIMILAR} AND {_FIRST_CLOSE}"),
        0.02,
        2e-4,
        _facts("last:similar", "first:close", "name:close"),
    ),
    LevelDef(
        "last_exact_first_missing",
        "last name equal, first name missing on one side",
        level(f"{_LAST_EXACT} AND {_FIRST_MISSING}"),
        0.03,
        1e-3,
        _facts("last:exact", "first:missing"),
    ),
    LevelDef(
        "last_fuzzy_first_missing",
        "last name similar, first name missing on one side",
        level(f"{_LAST_FUZZY} AND {_FIRST_MISSING}"),
        0.01,
        1e-3,
        _facts("last:fuzzy", "first:missing"),
    ),
    LevelDef(
        "last_exact_first_differs",
        "last name equal, first names differ",
        level(_LAST_EXACT),
        0.005,
        1.5e-3,
        _facts("last:exact", "first:differs"),
    ),
    LevelDef(
        "first_exact_last_differs",
        "first name equal, last names differ",
        level(f"{_FIRST_EXACT} AND {both('first_fold')}"),
        0.01,
        1e-2,
        _facts("first:exact", "last:differs"),
    ),
    LevelDef("differs", "names differ", None, 0.01, 0.9876, _facts("name:differs")),
)

NAME_COMPARISON_NULL = either_null("last_fold")


def _shown(value: Any) -> str:
    return str(value) if value not in (None, "") else "–"


def _same_or_folded(field: str, left: Any, right: Any) -> str:
    if str(left).casefold() == str(right).casefold():
        return f"{field}: exact"
    return f"{field}: exact (folded: {_shown(left)} = {_shown(right)})"


def _initial_or_part(left: PreparedRow, right: PreparedRow) -> str:
    left_first, right_first = left.get("first_name"), right.get("first_name")
    if left.get("first_fold") and len(str(left["first_fold"])) == 1:
        return f"first_name: initial {_shown(left_first)} ~ {_shown(right_first)}"
    if right.get("first_fold") and len(str(right["first_fold"])) == 1:
        return f"first_name: initial {_shown(right_first)} ~ {_shown(left_first)}"
    return f"first_name: part of a double name ({_shown(left_first)} ~ {_shown(right_first)})"


def explain_name(level_def: LevelDef, left: PreparedRow, right: PreparedRow) -> list[str]:
    facts = level_def.facts
    left_first, right_first = left.get("first_name"), right.get("first_name")
    left_last, right_last = left.get("last_name"), right.get("last_name")
    if "name:swapped" in facts and "name:close" in facts:
        return [
            f"name: first and last name swapped, with typing errors ({_shown(left_first)} {_shown(left_last)}"
            f" ~ {_shown(right_first)} {_shown(right_last)})"
        ]
    if "name:swapped" in facts:
        return [
            f"name: first and last name swapped ({_shown(left_first)} {_shown(left_last)}"
            f" ~ {_shown(right_first)} {_shown(right_last)})"
        ]
    if "name:differs" in facts:
        return [
            f"name: differs ({_shown(left_first)} {_shown(left_last)} vs {_shown(right_first)} {_shown(right_last)})"
        ]
    reasons: list[str] = []
    if "last:exact" in facts:
        reasons.append(_same_or_folded("last_name", left_last, right_last))
    elif "last:fuzzy" in facts:
        reasons.append(f"last_name: similar ({_shown(left_last)} ~ {_shown(right_last)})")
    elif "last:differs" in facts:
        reasons.append(f"last_name: differs ({_shown(left_last)} vs {_shown(right_last)})")
    elif "last:similar" in facts:
        reasons.append(
            _same_or_folded("last_name", left_last, right_last)
            if left.get("last_fold") == right.get("last_fold")
            else f"last_name: similar ({_shown(left_last)} ~ {_shown(right_last)})"
        )
    if "first:exact" in facts:
        reasons.append(_same_or_folded("first_name", left_first, right_first))
    elif "first:fuzzy" in facts:
        reasons.append(f"first_name: similar ({_shown(left_first)} ~ {_shown(right_first)})")
    elif "first:typo" in facts:
        name = str(left.get("first_key") or "").capitalize()
        reasons.append(f"first_name: one given name, {name} ({_shown(left_first)} ~ {_shown(right_first)})")
    elif "first:compatible" in facts:
        reasons.append(_initial_or_part(left, right))
    elif "first:fuzzy_or_compatible" in facts:
        shortest = min(len(str(left.get("first_fold"))), len(str(right.get("first_fold"))))
        same_initial = left.get("first_initial") == right.get("first_initial")
        if left.get("first_token") == right.get("first_token") or (same_initial and shortest == 1):
            reasons.append(_initial_or_part(left, right))
        else:
            reasons.append(f"first_name: similar ({_shown(left_first)} ~ {_shown(right_first)})")
    elif "first:close" in facts:
        reasons.append(f"first_name: close ({_shown(left_first)} ~ {_shown(right_first)})")
    elif "first:missing" in facts:
        reasons.append("first_name: missing on one side")
    elif "first:differs" in facts:
        reasons.append(f"first_name: differs ({_shown(left_first)} vs {_shown(right_first)})")
    return reasons


def name_comparison() -> ComparisonDef:
    return ComparisonDef(
        name="name",
        null_when=NAME_COMPARISON_NULL,
        levels=NAME_LEVELS,
        explain=explain_name,
        description="first and last name, jointly (swaps, initials, umlaut folding, typos)",
    )


def first_name_drop(
    personal_evidence_facts: tuple[str, ...], identity_facts: tuple[tuple[str, ...], ...] = ()
) -> DropWhen:
    """The pairs :func:`first_name_rule` drops: names conflict and nothing personal agrees."""
    return DropWhen(
        any_of=("first:differs", "name:differs"), none_of=personal_evidence_facts, unless_all_of=identity_facts
    )


def first_name_rule(drop: DropWhen) -> PostRule:
    """Given names discriminate: a differing given name means another person.

    Fellegi-Sunter alone cannot express this: among random pairs a shared surname is rare, so
    "same surname, other given name" still adds weight, and colleagues sharing an address,
    a switchboard number and a surname-only mailbox score as near-certain duplicates. The rule
    drops such pairs, unless something personal (a mobile number, a personal e-mail address,
    a date of birth and ID) agrees, in which case a person has to look (capped at possible).
    ``drop`` is made by :func:`first_name_drop`.
    """

    def rule(pair: PairView) -> RuleOutcome | None:
        if not drop.conflict(pair):
            return None
        left, right = pair.left, pair.right
        who = (
            f"{_shown(left.get('first_name'))} {_shown(left.get('last_name'))} vs "
            f"{_shown(right.get('first_name'))} {_shown(right.get('last_name'))}"
        )
        if not drop.holds(pair):
            return RuleOutcome(
                reason=f"rule: names differ ({who}) but personal data agree: needs review",
                cap_at_possible=True,
            )
        return RuleOutcome(reason=f"rule: different given names ({who}): different people", drop=True)

    return rule


def close_names_rule(personal_evidence_facts: tuple[str, ...], identity: IdentityCheck | None = None) -> PostRule:
    """Given names a typing error apart are a typo, or two people (Lena and Lea, Jan and Jana).

    Colleagues and relatives share every other field, so the rest of the evidence cannot tell;
    the pair goes to a person, unless something only one person has agrees (a mobile number, a
    personal e-mail address, or the ID number checked by ``identity``).
    """

    def rule(pair: PairView) -> RuleOutcome | None:
        if not pair.has("name:close"):
            return None
        if identity is not None and identity(pair):
            return None
        left, right = pair.left, pair.right
        who = (
            f"{_shown(left.get('first_name'))} {_shown(left.get('last_name'))} ~ "
            f"{_shown(right.get('first_name'))} {_shown(right.get('last_name'))}"
        )
        if any(pair.has(fact) for fact in personal_evidence_facts):
            # A mobile number or a personal address is one person's: the names hold a typo.
            return RuleOutcome(reason=f"rule: names a typing error apart ({who}) but personal data agree")
        return RuleOutcome(
            reason=f"rule: names a typing error apart ({who}), a typo or two people: needs review",
            cap_at_possible=True,
        )

    return rule


def missing_first_name_rule(personal_evidence_facts: tuple[str, ...]) -> PostRule:
    """Without a given name on one side, a shared surname and address may well be a colleague."""

    def rule(pair: PairView) -> RuleOutcome | None:
        if not pair.has("first:missing"):
            return None
        if any(pair.has(fact) for fact in personal_evidence_facts):
            return None
        return RuleOutcome(
            reason="rule: first name missing on one side and nothing personal agrees: needs review",
            cap_at_possible=True,
        )

    return rule


INITIAL_PAIRS_SQL = " OR ".join(
    f"length({side}.{column}) = 1" for side in ("l", "r") for column in ("first_fold", "last_fold")
)
"""The pairs in which one side has only an initial: those :func:`initial_only_rule` looks at."""


def _is_initial(row: PreparedRow) -> bool:
    return any(row.get(column) and len(str(row[column])) == 1 for column in ("first_fold", "last_fold"))


def _name_the_initial_stands_for(initial_row: PreparedRow, full: PreparedRow) -> str:
    """The full side's given name the initial abbreviates (Thomas for "T. Müller" ~ "Thomas Müllr").

    Only the given name counts: the same person with a misspelt surname is still one name, while
    Thomas and Tanja are two people the initial could mean.
    """
    initials = {str(initial_row[c]) for c in ("first_fold", "last_fold") if initial_row.get(c)}
    initials = {value for value in initials if len(value) == 1}
    for column in ("first_fold", "last_fold"):
        value = str(full.get(column) or "")
        if len(value) > 1 and value[0] in initials:
            return value
    return " ".join(str(full[c]) for c in ("first_fold", "last_fold") if full.get(c))


def _one_typo_apart(first: str, second: str) -> bool:
    """Thomas/Thommas, Käthe/Kähte: one typing error; not Maria/Mario or Jan/Jana (two names)."""
    from rapidfuzz.distance import DamerauLevenshtein

    if first[:1] != second[:1] or first.startswith(second) or second.startswith(first):
        return False
    if len(first) == len(second) and first[:-1] == second[:-1]:
        return False
    return DamerauLevenshtein.distance(first, second) <= 1


def count_distinct_names(names: Iterable[str]) -> int:
    """How many different given names ``names`` hold when a typing error does not make a new one."""
    groups: list[list[str]] = []
    for name in sorted(set(names)):
        for group in groups:
            if any(_one_typo_apart(name, member) for member in group):
                group.append(name)
                break
        else:
            groups.append([name])
    return len(groups)


def initial_only_rule(personal_evidence_facts: tuple[str, ...]) -> PostRule:
    """An initial fits every given name with that letter: "T." may be Thomas or Tanja.

    Colleagues sharing a surname, an address and a switchboard would otherwise be merged on an
    initial alone. The cap is lifted when, in this run, the initial fits only one full name
    (the matcher checks that across all pairs of the record).
    """

    def rule(pair: PairView) -> RuleOutcome | None:
        if not pair.has("name:agrees") or not (_is_initial(pair.left) or _is_initial(pair.right)):
            return None
        initial_side = "left" if _is_initial(pair.left) else "right"
        full = pair.right if initial_side == "left" else pair.left
        given = _name_the_initial_stands_for(pair.left if initial_side == "left" else pair.right, full)
        if any(pair.has(fact) for fact in personal_evidence_facts):
            # Not in doubt here, but the name it matched counts when judging the record's other pairs.
            return RuleOutcome(reason="", ambiguity=(initial_side, given))
        return RuleOutcome(
            reason="rule: only an initial for the given name and nothing personal agrees: needs review",
            cap_at_possible=True,
            ambiguity=(initial_side, given),
        )

    return rule


def last_name_changed_rule(identity: IdentityCheck | None = None) -> PostRule:
    """Same given name, other surname: a marriage, or simply another person; a person decides."""

    def rule(pair: PairView) -> RuleOutcome | None:
        if not pair.has("last:differs"):
            return None
        if identity is not None and identity(pair):
            return None
        return RuleOutcome(reason="rule: last names differ: needs review", cap_at_possible=True)

    return rule


def name_only_rule(corroborating_facts: tuple[str, ...]) -> PostRule:
    """A name, however rare, is never enough on its own: namesakes exist."""

    def rule(pair: PairView) -> RuleOutcome | None:
        if not pair.has("name:agrees"):
            return None
        if any(pair.has(fact) for fact in corroborating_facts):
            return None
        return RuleOutcome(reason="rule: only the name agrees: needs review", cap_at_possible=True)

    return rule
