from __future__ import annotations

from pathlib import Path

import pytest

from einklang.config import ConfigError, parse_config
from einklang.masking import mask

VALID = """\
state: sqlite:///state.db
systems:
  erp:
    connector: sql
    url: postgresql://erp_reader@localhost/erp
    password: ${ERP_DB_PASSWORD}
  crm:
    connector: sql
    url: sqlite:///crm.db
entities:
  company:
    keys: [customer_number]
    fields:
      customer_number: str
      name: str
      phone: phone
    systems:
      erp:
        table: kunden
        id: kundennr
        map:
          customer_number: kundennr
          name: {join: [name1, name2]}
          phone: telefon
      crm:
        table: accounts
        id: id
        map: {customer_number: external_id, name: name, phone: phone}
"""


def test_valid_config_resolves_secret_from_environment(tmp_path: Path) -> None:
    config = parse_config(VALID, tmp_path / "einklang.yaml", environ={"ERP_DB_PASSWORD": "s3cr3t-pw"})
    assert config.system("erp").settings()["password"] == "s3cr3t-pw"
    assert config.state_url == f"sqlite:///{(tmp_path / 'state.db').resolve()}"
    assert config.entity_spec("company").keys == ("customer_number",)


def test_secret_is_masked_everywhere(tmp_path: Path) -> None:
    config = parse_config(VALID, tmp_path / "einklang.yaml", environ={"ERP_DB_PASSWORD": "s3cr3t-pw"})
    shown = str(config.masked())
    assert "s3cr3t-pw" not in shown
    assert "***" in shown
    assert mask("connecting with s3cr3t-pw failed") == "connecting with *** failed"
    assert mask("postgresql://bob:hunter22@db/erp") == "postgresql://bob:***@db/erp"


def test_missing_secret_names_file_line_and_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(VALID, tmp_path / "einklang.yaml", environ={})
    error = caught.value
    assert error.line == 6
    assert error.key == "systems.erp.password"
    assert "ERP_DB_PASSWORD" in str(error)
    assert str(error).startswith(f"{tmp_path / 'einklang.yaml'}:6:")


def test_secrets_file(tmp_path: Path) -> None:
    (tmp_path / "secrets.env").write_text("ERP_DB_PASSWORD=from-file-pw\n", encoding="utf-8")
    text = "secrets_file: secrets.env\n" + VALID
    config = parse_config(text, tmp_path / "einklang.yaml", environ={})
    assert config.system("erp").settings()["password"] == "from-file-pw"
    assert "from-file-pw" not in str(config.masked())


def test_unknown_field_in_map_is_located(tmp_path: Path) -> None:
    text = VALID.replace("phone: telefon", "fax: telefax")
    with pytest.raises(ConfigError) as caught:
        parse_config(text, tmp_path / "c.yaml", environ={"ERP_DB_PASSWORD": "x"})
    assert "'fax' is not a field" in str(caught.value)
    assert caught.value.line is not None


def test_wrong_type_is_located(tmp_path: Path) -> None:
    text = VALID.replace("phone: phone\n", "phone: telephone\n")
    with pytest.raises(ConfigError) as caught:
        parse_config(text, tmp_path / "c.yaml", environ={"ERP_DB_PASSWORD": "x"})
    assert caught.value.line == 16
    assert caught.value.key.startswith("entities.company.fields.phone")


def test_invalid_yaml_has_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("systems:\n  erp: [unclosed\n", tmp_path / "c.yaml", environ={})
    assert caught.value.line is not None
    assert "invalid YAML" in str(caught.value)


def test_unknown_system_in_entity(tmp_path: Path) -> None:
    text = VALID.replace("      crm:\n        table: accounts", "      shop:\n        table: accounts")
    with pytest.raises(ConfigError) as caught:
        parse_config(text, tmp_path / "c.yaml", environ={"ERP_DB_PASSWORD": "x"})
    assert "unknown system 'shop'" in str(caught.value)
