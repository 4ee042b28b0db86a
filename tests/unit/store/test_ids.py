"""Golden-record ids of the state store (no database needed)."""

from __future__ import annotations

import time
import uuid

from einklang.store.ids import new_golden_ids


def test_golden_ids_are_time_ordered_uuid7() -> None:
    first = new_golden_ids(1000)
    time.sleep(0.002)
    later = new_golden_ids(1000)
    assert len(set(first + later)) == 2000
    for text in first[:10] + later[:10]:
        value = uuid.UUID(text)
        assert value.version == 7 and value.variant == uuid.RFC_4122
        assert str(value) == text
    assert max(first) < min(later)  # the millisecond prefix orders ids of different batches
