"""What the importer remembers between runs: imported row fingerprints and "not a duplicate" pairs.

Fingerprints map a contact row (by :func:`einklang.importer.incoming.fingerprint`) to the golden
record it became, or to ``SKIPPED`` when a person decided to leave it out; a rerun of the same
import recognises these rows and leaves them alone.

They live in the state store's ``snapshots`` table under the pseudo-system ``IMPORT_SYSTEM``
(native id = fingerprint, hash = golden id): a key-value table with exactly the needed shape
and no uniqueness on the golden id, which ``links`` has (one link per golden and system) and
which several rows merged into one person would break. A dedicated table would be cleaner; it
needs a migration, which this module is written to make a one-file change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from einklang.store import schema as t
from einklang.store.state import chunks, utcnow

IMPORT_SYSTEM = "einklang:import"
SKIPPED = "skipped"


def known_fingerprints(conn: Connection, entity: str, fingerprints: Sequence[str]) -> dict[str, str]:
    """fingerprint -> golden id (or SKIPPED) for the fingerprints seen by an earlier run."""
    found: dict[str, str] = {}
    for chunk in chunks(list(dict.fromkeys(fingerprints))):
        rows = conn.execute(
            sa.select(t.snapshots.c.native_id, t.snapshots.c.hash).where(
                t.snapshots.c.system == IMPORT_SYSTEM,
                t.snapshots.c.entity == entity,
                t.snapshots.c.native_id.in_(chunk),
            )
        )
        found.update({row.native_id: row.hash for row in rows})
    return found


def remember_fingerprints(conn: Connection, entity: str, targets: Mapping[str, str]) -> None:
    """Store fingerprint -> golden id (or SKIPPED); a fingerprint seen again is re-pointed."""
    if not targets:
        return
    forget_fingerprints(conn, entity, list(targets))
    conn.execute(
        t.snapshots.insert(),
        [
            {"system": IMPORT_SYSTEM, "entity": entity, "native_id": fp, "hash": target}
            for fp, target in targets.items()
        ],
    )


def forget_fingerprints(conn: Connection, entity: str, fingerprints: Sequence[str]) -> None:
    for chunk in chunks(fingerprints):
        conn.execute(
            t.snapshots.delete().where(
                t.snapshots.c.system == IMPORT_SYSTEM,
                t.snapshots.c.entity == entity,
                t.snapshots.c.native_id.in_(chunk),
            )
        )


# ---------------------------------------------------------------------------- exclusions


def incoming_key(fingerprint: str) -> str:
    return f"import:{fingerprint}"


def record_key(system: str, native_id: str) -> str:
    return f"{system}:{native_id}"


def excluded_pairs(conn: Connection, entity: str, keys: Iterable[str]) -> set[tuple[str, str]]:
    """The (key_a, key_b) pairs declared "not a duplicate" that involve any of ``keys`` (both orders)."""
    pairs: set[tuple[str, str]] = set()
    for chunk in chunks(list(dict.fromkeys(keys)), 400):  # two IN lists per query
        rows = conn.execute(
            sa.select(t.match_exclusions.c.key_a, t.match_exclusions.c.key_b).where(
                t.match_exclusions.c.entity == entity,
                sa.or_(t.match_exclusions.c.key_a.in_(chunk), t.match_exclusions.c.key_b.in_(chunk)),
            )
        )
        for row in rows:
            pairs.add((row.key_a, row.key_b))
            pairs.add((row.key_b, row.key_a))
    return pairs


def add_exclusion(conn: Connection, entity: str, key_a: str, key_b: str) -> bool:
    """Remember that two records are different; False if it was already remembered."""
    first, second = sorted((key_a, key_b))
    exists = conn.execute(
        sa.select(t.match_exclusions.c.entity).where(
            t.match_exclusions.c.entity == entity,
            t.match_exclusions.c.key_a == first,
            t.match_exclusions.c.key_b == second,
        )
    ).first()
    if exists:
        return False
    conn.execute(t.match_exclusions.insert().values(entity=entity, key_a=first, key_b=second, created_at=utcnow()))
    return True


def remove_exclusion(conn: Connection, entity: str, key_a: str, key_b: str) -> None:
    first, second = sorted((key_a, key_b))
    conn.execute(
        t.match_exclusions.delete().where(
            t.match_exclusions.c.entity == entity,
            t.match_exclusions.c.key_a == first,
            t.match_exclusions.c.key_b == second,
        )
    )
