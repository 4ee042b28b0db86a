"""`einklang demo --dir` never clobbers a folder that is not its own and never writes through a link."""

from __future__ import annotations

import os
from pathlib import Path

from typer.testing import CliRunner

from einklang.cli import app

runner = CliRunner()


def test_a_folder_with_other_files_is_refused_without_force(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "einklang.yaml").write_text("my own config\n")
    (folder / "erp.db").write_text("my own database\n")
    result = runner.invoke(app, ["demo", "--dir", str(folder), "--customers", "10"])
    assert result.exit_code == 2
    assert "not empty" in result.output and "--force" in result.output
    assert (folder / "einklang.yaml").read_text() == "my own config\n"
    assert (folder / "erp.db").read_text() == "my own database\n"


def test_a_link_out_of_the_folder_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "precious.yaml"
    outside.write_text("do not touch\n")
    folder = tmp_path / "demo"
    folder.mkdir()
    os.symlink(outside, folder / "einklang.yaml")
    result = runner.invoke(app, ["demo", "--dir", str(folder), "--customers", "10", "--force"])
    assert result.exit_code == 2 and "symbolic link" in result.output
    assert outside.read_text() == "do not touch\n"


def test_an_earlier_demo_folder_is_re_created(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    for _ in range(2):
        result = runner.invoke(app, ["demo", "--dir", str(folder), "--customers", "10", "--json"])
        assert result.exit_code == 0, result.output


def test_the_demo_ends_with_a_working_web_login(tmp_path: Path) -> None:
    import json

    from einklang.config import load_config
    from einklang.store.state import store_for_config
    from einklang.web.accounts import verify_password

    folder = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--dir", str(folder), "--customers", "10", "--json"])
    assert result.exit_code == 0, result.output
    login = json.loads(result.output)["login"]
    store = store_for_config(load_config(folder / "einklang.yaml"))
    try:
        with store.transaction() as conn:
            user = verify_password(conn, login["user"], login["password"])
            assert user is not None and user.role == "admin"
            assert verify_password(conn, login["user"], "wrong") is None
    finally:
        store.close()
    text = runner.invoke(app, ["demo", "--dir", str(folder), "--customers", "10"]).output
    assert "serve" in text and "sign in as demo, password " in text
