"""``einklang serve --check``: everything serve needs, checked before it is started under systemd."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from typer.testing import CliRunner

from einklang.cli import app

from .receivers import free_port
from .world import linked_world

runner = CliRunner()


def _check(config: Path, *args: str) -> tuple[int, dict[str, object]]:
    result = runner.invoke(app, ["serve", "--check", "-c", str(config), "--json", *args])
    return result.exit_code, json.loads(result.stdout)


def test_check_passes_and_names_each_part(tmp_path: Path) -> None:
    loaded = linked_world(tmp_path)
    assert loaded.path is not None
    code, document = _check(loaded.path, "--port", str(free_port()))
    assert code == 0, document
    names = [check["name"] for check in document["checks"]]  # type: ignore[union-attr]
    assert names == ["state store", "erp", "crm", "port", "notifications"]


def test_a_port_in_use_and_an_unreachable_system_fail_the_check(tmp_path: Path) -> None:
    loaded = linked_world(tmp_path)
    assert loaded.path is not None
    (tmp_path / "crm.db").unlink()
    (tmp_path / "crm.db").mkdir()  # SQLite cannot open a folder
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code, document = _check(loaded.path, "--port", str(taken.getsockname()[1]))
    assert code == 1 and document["ok"] is False
    failed = {check["name"]: check["detail"] for check in document["checks"] if not check["ok"]}  # type: ignore[union-attr]
    assert set(failed) == {"crm", "port"}
    assert "cannot listen on 127.0.0.1:" in str(failed["port"])


def test_a_wrong_service_setting_is_a_config_error_with_its_line(tmp_path: Path) -> None:
    loaded = linked_world(tmp_path)
    assert loaded.path is not None
    loaded.path.write_text(loaded.path.read_text() + "service:\n  port: 80800\n", encoding="utf-8")
    code, document = _check(loaded.path)
    assert code == 2
    error = document["error"]
    assert isinstance(error, dict) and error["key"] == "service.port" and error["line"] is not None
