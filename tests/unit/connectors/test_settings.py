"""Connector settings are checked when the config loads: a misspelt key is an error at its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from einklang.config import ConfigError, parse_config
from einklang.connectors.base import ConfigurationError, load_connector_class
from einklang.connectors.settings import ConnectorSettings

CONFIG_FILE = Path("/etc/einklang/einklang.yaml")
TOKEN = "tok-9f8e7d6c5b4a"
PASSWORD = "pw-0a1b2c3d4e5f"
ENVIRONMENT = {"SECRET_TOKEN": TOKEN, "SECRET_PASSWORD": PASSWORD}

# Complete settings and entity options of each connector (a key per line, so lines are exact).
SYSTEM_SETTINGS = {
    "sql": ["url: sqlite:///erp.db", "password: ${SECRET_PASSWORD}"],
    "memory": ["store: crm"],
    "tryton": ["url: http://erp.test", "database: firma", "user: admin", "password: ${SECRET_PASSWORD}"],
    "bottlecrm": ["url: http://crm.test", "token: ${SECRET_TOKEN}"],
    "carddav": ["url: http://dav.test/book/", "user: einklang", "password: ${SECRET_PASSWORD}"],
}
ENTITY_OPTIONS = {
    "sql": ["table: kunden", "id: kundennr"],
    "memory": ["correlation: einklang_id"],
    "tryton": ["kind: party"],
    "bottlecrm": ["resource: contact"],
    "carddav": ["page_size: 50"],
}


def config_text(connector: str, system_extra: str = "", entity_extra: str = "") -> str:
    settings = [*SYSTEM_SETTINGS[connector], *([system_extra] if system_extra else [])]
    options = [*ENTITY_OPTIONS[connector], *([entity_extra] if entity_extra else [])]
    lines = [
        "systems:",
        "  src:",
        f"    connector: {connector}",
        *(f"    {setting}" for setting in settings),
        "entities:",
        "  contact:",
        "    fields: {name: str}",
        "    systems:",
        "      src:",
        "        map: {name: name}",
        *(f"        {option}" for option in options),
    ]
    return "\n".join(lines) + "\n"


def line_of(text: str, fragment: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), start=1) if fragment in line)


def load(text: str) -> None:
    parse_config(text, CONFIG_FILE, environ=ENVIRONMENT)


@pytest.mark.parametrize("connector", sorted(SYSTEM_SETTINGS))
def test_complete_settings_load(connector: str) -> None:
    load(config_text(connector))


@pytest.mark.parametrize("connector", sorted(SYSTEM_SETTINGS))
def test_a_misspelt_system_key_is_named_with_file_and_line(connector: str) -> None:
    text = config_text(connector, system_extra="pasword: x")
    with pytest.raises(ConfigError) as raised:
        load(text)
    error = raised.value
    assert error.file == CONFIG_FILE and error.line == line_of(text, "pasword")
    assert error.key == "systems.src.pasword"
    assert str(error).startswith(f"{CONFIG_FILE}:{error.line}: systems.src.pasword: unknown setting 'pasword'")
    assert TOKEN not in str(error) and PASSWORD not in str(error)


@pytest.mark.parametrize("connector", sorted(ENTITY_OPTIONS))
def test_a_misspelt_entity_key_is_named_with_file_and_line(connector: str) -> None:
    text = config_text(connector, entity_extra="chaned: geaendert_am")
    with pytest.raises(ConfigError) as raised:
        load(text)
    error = raised.value
    assert error.file == CONFIG_FILE and error.line == line_of(text, "chaned")
    assert error.key == "entities.contact.systems.src.chaned"
    assert "unknown option 'chaned'" in str(error)
    assert TOKEN not in str(error) and PASSWORD not in str(error)


def test_a_missing_setting_is_reported_at_its_system() -> None:
    text = config_text("bottlecrm").replace("    token: ${SECRET_TOKEN}\n", "")
    with pytest.raises(ConfigError) as raised:
        load(text)
    assert raised.value.key == "systems.src.token" and raised.value.line == line_of(text, "  src:")
    assert "setting 'token' is required" in str(raised.value)


def test_a_wrong_value_is_reported_without_the_value() -> None:
    text = config_text("sql").replace("url: sqlite:///erp.db", "url: oracle://scott:tiger-pw@db/erp")
    with pytest.raises(ConfigError) as raised:
        load(text)
    assert raised.value.line == line_of(text, "url:") and raised.value.key == "systems.src.url"
    assert "unsupported database 'oracle'" in str(raised.value) and "tiger-pw" not in str(raised.value)


def test_a_secret_of_the_wrong_type_is_not_repeated() -> None:
    text = config_text("tryton").replace("password: ${SECRET_PASSWORD}", "password: [hunter2-secret]")
    with pytest.raises(ConfigError) as raised:
        load(text)
    assert raised.value.key == "systems.src.password" and "hunter2-secret" not in str(raised.value)


def test_an_unknown_connector_is_reported_at_its_line() -> None:
    text = config_text("sql").replace("connector: sql", "connector: sqll")
    with pytest.raises(ConfigError) as raised:
        load(text)
    assert raised.value.line == line_of(text, "connector: sqll") and raised.value.key == "systems.src.connector"
    assert "unknown connector 'sqll'" in str(raised.value)


@pytest.mark.parametrize("connector", sorted(SYSTEM_SETTINGS))
def test_every_connector_declares_models_that_refuse_unknown_keys(connector: str) -> None:
    connector_class = load_connector_class(connector)
    for model in (connector_class.settings_model, connector_class.entity_settings_model):
        assert issubclass(model, ConnectorSettings) and model.model_config.get("extra") == "forbid"


def test_direct_construction_validates_too() -> None:
    bottlecrm = load_connector_class("bottlecrm")
    with pytest.raises(ConfigurationError, match=r"^crm: entity 'person': unknown option 'resorce'"):
        bottlecrm("crm", {"url": "http://crm.test", "token": TOKEN}, {"person": {"resorce": "contact"}})
    with pytest.raises(ConfigurationError) as raised:
        bottlecrm("crm", {"url": "http://crm.test", "token": TOKEN, "timeout": -1}, {})
    assert "setting 'timeout': must be a number > 0" in str(raised.value) and TOKEN not in str(raised.value)


def test_secrets_are_hidden_in_the_typed_settings() -> None:
    connector = load_connector_class("bottlecrm")("crm", {"url": "http://crm.test", "token": TOKEN}, {})
    assert TOKEN not in repr(connector.settings) and TOKEN not in str(connector.settings.model_dump())
