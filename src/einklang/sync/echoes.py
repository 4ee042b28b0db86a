"""Recognising a record read again unchanged without mapping it again.

After a burst of changes every cycle re-reads the last seconds of each system (the cursors'
overlap, which catches rows committed late), thousands of records that are all echoes. Telling
an echo costs a full mapping to canonical form (validation, phone and e-mail normalisation) and
a hash. :class:`EchoMemo` remembers, for each record read (without a problem), the digest of its
exact native fields and the canonical hash it mapped to: the same native fields always
map to the same canonical record, so a record read again with the same digest has that hash
without mapping. Whether it is an echo is still decided against the link's current hash.
Entities with reference fields do not use it: their mapping also depends on the links of the
records referred to.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import orjson

# records remembered per engine (a few hundred bytes each); the oldest are forgotten first
DEFAULT_LIMIT = 200_000


# orjson writes dates and times itself (ISO 8601); ``default=str`` writes them as json does. Only
# this process compares the digests (the memo is not stored), so the text need only be the same
# for the same fields each time. Column names are str subclasses (SQLAlchemy's quoted_name):
# orjson takes them as keys with OPT_NON_STR_KEYS only.
_DIGEST_OPTIONS = (
    orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def native_digest(fields: Mapping[str, Any]) -> str:
    try:
        data = orjson.dumps(fields, default=str, option=_DIGEST_OPTIONS)
    except orjson.JSONEncodeError:  # keys that are not text, integers beyond 64 bits, ...
        data = json.dumps(fields, sort_keys=True, default=str, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class EchoMemo:
    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self._hashes: OrderedDict[tuple[str, str, str], tuple[str, str]] = OrderedDict()

    def canonical_hash(self, key: tuple[str, str, str], digest: str) -> str | None:
        """The canonical hash of the record ``key`` = (system, entity, native id) if it was read
        before with exactly these native fields."""
        known = self._hashes.get(key)
        if known is None or known[0] != digest:
            return None
        self._hashes.move_to_end(key)
        return known[1]

    def remember(self, key: tuple[str, str, str], digest: str, canonical_hash: str) -> None:
        self._hashes[key] = (digest, canonical_hash)
        self._hashes.move_to_end(key)
        while len(self._hashes) > self.limit:
            self._hashes.popitem(last=False)

    def __len__(self) -> int:
        return len(self._hashes)
