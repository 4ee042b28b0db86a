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

# records remembered per engine; the least recently used are forgotten first. An entry costs
# about 230 bytes (one key string, one bytes value, the OrderedDict's own ~100), so the memo
# holds at most ~45 MB: a cycle of 100,000 changes remembers 200,000 (read and written)
DEFAULT_LIMIT = 200_000
_SEPARATOR = "\x1f"  # never in a system's or an entity's name (config identifiers)


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
    """Per record ``(system, entity, native id)``: the digest of its native fields and its canonical hash.

    Stored compactly, since a busy cycle fills it: the key as one string, digest and hash as one
    ``bytes`` value (the digest's 16 raw bytes, then the hash's text): about half the memory of
    tuples of strings (444 bytes an entry before, bench/RESULTS_sync.md).
    """

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self._hashes: OrderedDict[str, bytes] = OrderedDict()

    def canonical_hash(self, key: tuple[str, str, str], digest: str) -> str | None:
        """The canonical hash of the record ``key`` = (system, entity, native id) if it was read
        before with exactly these native fields."""
        name = _SEPARATOR.join(key)
        known = self._hashes.get(name)
        if known is None:
            return None
        if known[:16] != _pack_digest(digest):
            return None
        self._hashes.move_to_end(name)
        return known[16:].decode("utf-8")

    def remember(self, key: tuple[str, str, str], digest: str, canonical_hash: str) -> None:
        name = _SEPARATOR.join(key)
        self._hashes[name] = _pack_digest(digest) + canonical_hash.encode("utf-8")
        self._hashes.move_to_end(name)
        while len(self._hashes) > self.limit:
            self._hashes.popitem(last=False)

    def __len__(self) -> int:
        return len(self._hashes)


def _pack_digest(digest: str) -> bytes:
    """A :func:`native_digest` as its 16 raw bytes (any other text: 16 bytes of its own digest)."""
    if len(digest) == 32:
        try:
            return bytes.fromhex(digest)
        except ValueError:
            pass
    return hashlib.blake2b(digest.encode("utf-8"), digest_size=16).digest()
