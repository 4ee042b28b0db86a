"""Test helpers shipped with einklang, so that third-party connectors can be held to the contract.

Use :class:`einklang.testing.contract.ConnectorContract`::

    from einklang.testing.contract import ConnectorContract

    class TestMyConnectorContract(ConnectorContract):
        @pytest.fixture
        def connector(self): ...

        @pytest.fixture
        def backdoor(self): ...

:mod:`einklang.testing.memory` is an in-memory system behind the whole contract (the ``memory``
connector), for tests of everything that talks to connectors.
"""

from typing import Any

__all__ = ["BackDoor", "ConnectorContract", "MemorySnapshotStore", "SqlTableBackDoor", "drain_changes", "live_ids"]


def __getattr__(name: str) -> Any:
    # The contract imports pytest; loading the memory connector through its entry point must not.
    if name in __all__:
        from einklang.testing import contract

        return getattr(contract, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
