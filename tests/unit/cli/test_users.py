"""`einklang users`: add, list, passwd, token, remove; passwords and tokens stored hashed only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from einklang.cli import app
from einklang.config import load_config
from einklang.store.state import store_for_config
from einklang.web import accounts

runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "einklang.yaml"
    path.write_text(
        "state: sqlite:///state.db\n"
        "systems:\n  a: {connector: memory}\n"
        "entities:\n  person:\n    fields: {name: str}\n    systems:\n      a: {map: {name: name}}\n",
        encoding="utf-8",
    )
    return path


def users(config: Path, *args: str, stdin: str | None = None) -> tuple[int, dict[str, object]]:
    result = runner.invoke(app, ["users", *args, "-c", str(config), "--json"], input=stdin)
    return result.exit_code, json.loads(result.stdout)


def test_add_list_passwd_token_remove(config: Path) -> None:
    code, added = users(config, "add", "sabine", "--role", "steward", "--password-stdin", stdin="first-password\n")
    assert code == 0 and added["user"] == {"name": "sabine", "role": "steward"}
    code, listed = users(config, "list")
    assert listed["users"] == [{"name": "sabine", "role": "steward", "language": None}]
    store = store_for_config(load_config(config))
    with store.read() as conn:
        stored = conn.exec_driver_sql("SELECT password_hash FROM users").scalar_one()
        assert "first-password" not in stored and stored.startswith("$argon2")
        assert accounts.verify_password(conn, "sabine", "first-password") is not None
    code, _ = users(config, "passwd", "sabine", "--password-stdin", stdin="second-password\n")
    assert code == 0
    with store.read() as conn:
        assert accounts.verify_password(conn, "sabine", "first-password") is None
        assert accounts.verify_password(conn, "sabine", "second-password") is not None
    code, issued = users(config, "token", "sabine")
    token = str(issued["token"])
    assert code == 0 and token.startswith("ek_")
    with store.read() as conn:
        user = accounts.token_user(conn, token)
        assert user is not None and user.name == "sabine"
    code, _ = users(config, "remove", "sabine")
    assert code == 0
    with store.read() as conn:
        assert accounts.token_user(conn, token) is None
    store.close()
    assert users(config, "list")[1]["users"] == []


def test_plain_output_prints_the_token_alone_on_stdout(config: Path) -> None:
    runner.invoke(
        app, ["users", "add", "anna", "--role", "admin", "--password-stdin", "-c", str(config)], input="pw-123456\n"
    )
    result = runner.invoke(app, ["users", "token", "anna", "-c", str(config)])
    assert result.exit_code == 0
    assert result.stdout.strip().startswith("ek_") and len(result.stdout.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (("add", "x y", "--role", "admin", "--password-stdin"), "password-1\n", 2, "no spaces"),
        (("add", "bob", "--role", "boss", "--password-stdin"), "password-1\n", 2, "unknown role"),
        (("add", "bob", "--role", "viewer", "--password-stdin"), "short\n", 2, "at least 8"),
        (("add", "bob", "--role", "viewer", "--password-stdin"), "\n", 2, "no password"),
        (("remove", "nobody"), None, 4, "no user"),
        (("passwd", "nobody", "--password-stdin"), "password-1\n", 4, "no user"),
        (("token", "nobody"), None, 4, "no user"),
    ],
)
def test_bad_input_is_named(config: Path, args: tuple[str, ...], stdin: str | None, code: int, message: str) -> None:
    exit_code, result = users(config, *args, stdin=stdin)
    assert exit_code == code
    assert message in str(result["error"])


def test_a_user_cannot_be_added_twice(config: Path) -> None:
    assert users(config, "add", "bob", "--role", "viewer", "--password-stdin", stdin="password-1\n")[0] == 0
    code, result = users(config, "add", "bob", "--role", "admin", "--password-stdin", stdin="password-2\n")
    assert code == 2 and "already exists" in str(result["error"])
