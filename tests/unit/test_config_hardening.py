"""Hostile and careless configs: every problem at once, bounded YAML, secrets masked by parsing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from einklang.config import ConfigError, parse_config
from einklang.masking import mask
from einklang.store.health import load_health, save_health
from einklang.store.rows import Health
from einklang.store.state import open_store

ENTITY = """entities:
  company:
    fields: {number: str, name: str}
    systems:
      erp: {table: kunden, id: nr, map: {number: nr, name: name1}}
"""


def test_every_problem_is_reported_at_once_with_its_line() -> None:
    text = """systems:
  erp: {connector: sql, url: "sqlite:///erp.db", tabel: x}
entities:
  company:
    fields: {number: str, name: strr}
    systems:
      erp: {table: kunden, id: nr, map: {number: nr, name: name1, city: ort}}
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, Path("einklang.yaml"))
    problems = caught.value.problems
    assert len(problems) >= 2
    lines = {problem.line for problem in problems}
    assert 5 in lines or 7 in lines  # the entity's problems
    assert all(str(problem.file) == "einklang.yaml" for problem in problems)
    assert len(str(caught.value).splitlines()) == len(problems)


def test_connector_key_problems_are_all_reported_too() -> None:
    text = (
        """systems:
  erp: {connector: sql, url: "sqlite:///erp.db", tabel: x, shema: y}
"""
        + ENTITY
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, Path("einklang.yaml"))
    keys = {problem.key for problem in caught.value.problems}
    assert {"systems.erp.tabel", "systems.erp.shema"} <= keys
    assert {problem.line for problem in caught.value.problems} == {2}


def test_an_alias_bomb_is_refused_quickly() -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="more than"):
        parse_config("\n".join(lines) + "\n")
    assert time.perf_counter() - started < 5  # a bound, not a benchmark: unbounded takes minutes


def test_an_oversized_config_is_refused() -> None:
    with pytest.raises(ConfigError, match="larger than"):
        parse_config("# " + "x" * 1_100_000 + "\n")


@pytest.mark.parametrize("password", ["pa/ss", "p@ss word", "s3cr/t@x y", "pw?x"])
def test_a_password_inside_a_url_is_masked_everywhere(password: str) -> None:
    url = f"postgresql://erp:{password}@db-host:5432/erp"
    config = parse_config(f'state: "{url}"\nsystems:\n  erp: {{connector: sql, url: "{url}"}}\n' + ENTITY)
    shown = str(config.masked())
    assert password not in shown and "erp:***@db-host" in shown
    assert password not in mask(f"could not connect to {url}: timeout")


def test_a_secret_in_a_url_query_is_masked() -> None:
    url = "postgresql://erp@db-host/erp?sslmode=require&password=topsecret1"
    config = parse_config(f'systems:\n  erp: {{connector: sql, url: "{url}"}}\n' + ENTITY)
    assert "topsecret1" not in str(config.masked())
    assert mask("dsn=host?password=unregistered&x=1") == "dsn=host?password=***&x=1"


def test_a_two_character_secret_is_masked_as_a_word() -> None:
    parse_config(
        'systems:\n  erp: {connector: sql, url: "sqlite:///erp.db", password: "${PW}"}\n' + ENTITY, environ={"PW": "q7"}
    )
    assert mask("login with q7 failed; q77 and aq7 stay") == "login with *** failed; q77 and aq7 stay"


def test_a_stored_error_never_holds_a_password(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    with store.transaction() as conn:
        save_health(conn, "erp", Health(1, None, "connection to postgresql://erp:hunter22@db/erp refused"))
    with store.read() as conn:
        stored = load_health(conn)["erp"].last_error
    assert stored is not None and "hunter22" not in stored and "erp:***@db" in stored


def test_only_secrets_are_masked_not_every_value_of_the_secrets_file(tmp_path: Path) -> None:
    (tmp_path / "secrets.env").write_text("ERP_DATABASE=einklang\nERP_PASSWORD=s3cret-pw\n", encoding="utf-8")
    parse_config(
        'secrets_file: secrets.env\nsystems:\n  erp: {connector: sql, url: "sqlite:///${ERP_DATABASE}.db", '
        'password: "${ERP_PASSWORD}"}\n' + ENTITY,
        tmp_path / "einklang.yaml",
        environ={},
    )
    assert mask("/home/einklang/einklang.db with s3cret-pw") == "/home/einklang/einklang.db with ***"
