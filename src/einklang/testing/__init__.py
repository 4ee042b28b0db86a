"""Test helpers shipped with einklang, so that third-party connectors can be held to the contract.

Use :class:`einklang.testing.contract.ConnectorContract`::

    from einklang.testing.contract import ConnectorContract

    class TestMyConnectorContract(ConnectorContract):
        @pytest.fixture
        def connector(self): ...

        @pytest.fixture
        def backdoor(self): ...
"""

from einklang.testing.contract import (
    BackDoor,
    ConnectorContract,
    MemorySnapshotStore,
    SqlTableBackDoor,
    drain_changes,
)

__all__ = ["BackDoor", "ConnectorContract", "MemorySnapshotStore", "SqlTableBackDoor", "drain_changes"]
