"""The fixtures of the import tests (defined in demo_world.py, which other folders import)."""

from tests.unit.importer.demo_world import world  # noqa: F401 - the fixture for this folder
