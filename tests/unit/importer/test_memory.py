"""Memory handed back between an import's steps: the matcher's caches are emptied."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from einklang.importer.memory import release_memory
from einklang.match import CONTACT_SPEC, given_names, phonetic
from einklang.match import _normalize as normalisers


def _caches() -> Iterator[tuple[str, Any]]:
    for module in (normalisers, phonetic, given_names):
        for name, function in vars(module).items():
            if hasattr(function, "cache_info") and function.__module__ == module.__name__:
                yield f"{module.__name__}.{name}", function


def test_release_memory_empties_every_cache_of_the_matcher() -> None:
    record = {
        "first_name": "Erika",
        "last_name": "Mustermann",
        "company": "Firma GmbH",
        "phone": "030 1234567",
        "email": "erika@example.org",
        "street": "Hauptstr. 1",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DE",
        "id": "1",
    }
    CONTACT_SPEC.prepare_record(record, "DE")
    filled = [name for name, function in _caches() if function.cache_info().currsize]
    assert len(filled) >= 5, filled  # preparing a record fills the caches this test is about

    release_memory()

    assert {name: f.cache_info().currsize for name, f in _caches() if f.cache_info().currsize} == {}
