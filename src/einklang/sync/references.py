"""References between entities: golden ids <-> what each system holds, looked up in the state store.

The mapping (core) asks a :class:`~einklang.mapping.ReferenceResolver`; this is the one the
sync, the initial load and `status` give it. A reference is a lookup, never a query per
record where it can be helped: each (entity, system) pair's links are read whole on first
use (a referenced entity — groups, companies, employees — has far fewer records than the
ones pointing at it), and a miss is asked once more of the store, since the referenced record
may have been linked since. Positive answers are kept for the life of the object (one cycle,
one load). A copy sent to a load's worker processes carries what was read, not the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from einklang.mapping import EntityMapping, ReferenceNotReady
from einklang.model import CanonicalValue, display, ref_set
from einklang.store import links
from einklang.store.outbox import WAITING_PREFIX
from einklang.store.state import StateStore


def _value_key(value: CanonicalValue) -> str:
    # a group's name typed in a CRM's text field differs from the ERP's in case and spacing only
    return " ".join(display(value).split()).casefold()


class StoreReferences:
    """A :class:`~einklang.mapping.ReferenceResolver` over the state store's links and golden records."""

    def __init__(self, store: StateStore | None) -> None:
        self._store = store
        self._natives: dict[tuple[str, str], dict[str, str]] = {}  # (entity, system) -> native -> golden
        self._goldens: dict[tuple[str, str], dict[str, str]] = {}  # (entity, system) -> golden -> native
        self._values: dict[tuple[str, str], dict[str, str | None]] = {}  # (entity, field) -> key -> golden
        self._bases: dict[str, dict[str, CanonicalValue]] = {}  # golden id -> base (of referenced records)
        self._missed_values: set[tuple[str, str, str]] = set()
        self._bases_of: dict[str, dict[str, dict[str, CanonicalValue]]] = {}  # entity -> its bases, as read

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_store"] = None  # a worker process answers from what was read
        return state

    # ------------------------------------------------------------------ links
    def _link_maps(self, entity: str, system: str) -> tuple[dict[str, str], dict[str, str]]:
        key = (entity, system)
        natives = self._natives.get(key)
        if natives is None:
            natives = {}
            if self._store is not None:
                with self._store.read() as conn:
                    natives = links.native_to_golden(conn, system, entity)
            self._natives[key] = natives
            self._goldens[key] = {golden: native for native, golden in natives.items()}
        return natives, self._goldens[key]

    def preload(self, entity: str, system: str) -> None:
        """Read the links of ``entity`` in ``system`` now (before a load's pages are mapped in workers)."""
        self._link_maps(entity, system)

    def forget(self, entity: str, system: str) -> None:
        """Links of ``entity`` in ``system`` changed in bulk (a load created them): read them again."""
        self._natives.pop((entity, system), None)
        self._goldens.pop((entity, system), None)

    def golden_for_native(self, entity: str, system: str, native_id: str) -> str | None:
        natives, goldens = self._link_maps(entity, system)
        golden = natives.get(native_id)
        if golden is None and self._store is not None:
            with self._store.read() as conn:
                link = links.links_by_native(conn, system, entity, [native_id]).get(native_id)
            if link is not None:
                golden = natives[native_id] = link.golden_id
                goldens[golden] = native_id
        return golden

    def native_for_golden(self, entity: str, system: str, golden_id: str) -> str | None:
        natives, goldens = self._link_maps(entity, system)
        native = goldens.get(golden_id)
        if native is None and self._store is not None:
            with self._store.read() as conn:
                link = links.links_of_golden(conn, golden_id).get(system)
            if link is not None and link.entity == entity:
                native = goldens[golden_id] = link.native_id
                natives[native] = golden_id
        return native

    # ------------------------------------------------------------------ values
    def _value_index(self, entity: str, field: str, refresh: bool = False) -> dict[str, str | None]:
        key = (entity, field)
        index = self._values.get(key)
        if index is None or refresh:
            index = {}
            if self._store is not None:
                with self._store.read() as conn:
                    bases = links.golden_bases(conn, entity)
                self._bases_of[entity] = bases
                for golden, base in bases.items():
                    self._bases[golden] = base
                    value = base.get(field)
                    if value is None:
                        continue
                    value_key = _value_key(value)
                    # two records with the same name: the value names neither for sure
                    index[value_key] = None if value_key in index else golden
            self._values[key] = index
        return index

    def golden_for_value(self, entity: str, field: str, value: CanonicalValue) -> str | None:
        value_key = _value_key(value)
        index = self._value_index(entity, field)
        if value_key not in index and (entity, field, value_key) not in self._missed_values:
            self._missed_values.add((entity, field, value_key))
            index = self._value_index(entity, field, refresh=True)
        return index.get(value_key)

    def value_for_golden(self, entity: str, field: str, golden_id: str) -> CanonicalValue:
        base = self._bases.get(golden_id)
        if base is None and self._store is not None:
            with self._store.read() as conn:
                loaded = links.load_golden(conn, golden_id)
            if loaded is not None and loaded[1] == "active":
                base = self._bases[golden_id] = loaded[0]
        return None if base is None else base.get(field)

    def removed(self, golden_id: str) -> str | None:
        if self._store is None:
            return None
        with self._store.read() as conn:
            found = links.golden_entity_status(conn, golden_id)
        if found is None:
            return "unknown"
        return None if found[1] == "active" else found[1]

    def snapshot(self, mapping: EntityMapping, system: str) -> StoreReferences:
        """What ``mapping``'s references need in ``system``, read now, answering without the store.

        For a bulk load: its pages are mapped in forked worker processes that must never use
        the store's connections, and a reference is a dictionary lookup, not a query per record.
        """
        snapshot = StoreReferences(None)
        entities = mapping.entity.references()
        for rule in mapping.rules:
            entity = entities.get(rule.canonical)
            if entity is None:
                continue
            if rule.ref_value:
                snapshot._values[(entity, rule.ref_value)] = dict(self._value_index(entity, rule.ref_value))
                snapshot._bases.update(self._bases_of.get(entity, {}))
            else:
                natives, goldens = self._link_maps(entity, system)
                snapshot._natives[(entity, system)] = dict(natives)
                snapshot._goldens[(entity, system)] = dict(goldens)
        return snapshot

    def label(self, golden_id: str) -> str:
        """How people know a referenced record: its name or number beside the golden id.

        The value of a many reference (several golden ids, see ``ref_set``) is labelled per record:
        ``{'Garten' (0191…), 'Werkzeuge' (0191…)}``."""
        if " " in golden_id.strip():
            return "{" + ", ".join(self.label(one) for one in ref_set(golden_id)) + "}"
        base = self._bases.get(golden_id)
        if base is None and self._store is not None:
            with self._store.read() as conn:
                loaded = links.load_golden(conn, golden_id)
            base = loaded[0] if loaded is not None else None
        return record_label(base or {}, golden_id)


_LABEL_FIELDS = ("name", "number", "personnel_number", "customer_number", "sku", "code", "email")


def record_label(base: Mapping[str, CanonicalValue], golden_id: str) -> str:
    """``'Werkzeuge' (4f2c…)``: the first of a record's naming fields it has, and its golden id."""
    for name in _LABEL_FIELDS:
        value = base.get(name)
        if value is not None:
            return f"{display(value)!r} ({golden_id})"
    parts = [display(base[name]) for name in ("first_name", "last_name") if base.get(name)]
    return f"{' '.join(parts)!r} ({golden_id})" if parts else golden_id


def reference_reason(references: StoreReferences | None, waiting: ReferenceNotReady) -> str:
    """Why a write waits (or failed) for its reference, naming the referenced record."""
    who = references.label(waiting.golden_id) if references is not None else waiting.golden_id
    what = f"{waiting.field} -> {waiting.entity} {who}"
    if waiting.removed:
        return f"the referenced record is {waiting.removed}: {what}"
    return f"{WAITING_PREFIX}: {what} is not yet in {waiting.system}"
