"""Commands: users add / list / remove / passwd / token (the people who use the web app and the API)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from einklang.cli._common import (
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    CliError,
    ConfigOption,
    JsonOption,
    cli_errors,
    emit_json,
    err_console,
    lit,
    load,
    render_table,
    say,
    store_for,
)

users_app = typer.Typer(help="Users of the web app and the JSON API (roles: viewer, steward, admin).")

PasswordStdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin (for scripts).")
]


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise CliError("no password on stdin", EXIT_USAGE)
        return password
    password = str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    return password


def _account_errors(exc: Exception) -> CliError:
    message = str(exc)
    return CliError(message, EXIT_NOT_FOUND if message.startswith("no user") else EXIT_USAGE)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The user's sign-in name.")],
    role: Annotated[str, typer.Option("--role", help="viewer (sees), steward (decides), admin (also runs, undoes).")],
    password_stdin: PasswordStdinOption = False,
    no_password: Annotated[
        bool,
        typer.Option("--no-password", help="No password: the user signs in through the trusted proxy header only."),
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a user (the password is asked for, or read with --password-stdin)."""
    from einklang.web.accounts import AccountError, add_user, check_name, check_role

    with cli_errors(as_json):
        try:
            check_name(name)
            check_role(role)
        except AccountError as exc:
            raise _account_errors(exc) from None
        password = None if no_password else _password(password_stdin)
        store = store_for(load(config))
        try:
            with store.transaction() as conn:
                user = add_user(conn, name, role, password)
        except AccountError as exc:
            raise _account_errors(exc) from None
        if as_json:
            emit_json({"ok": True, "user": {"name": user.name, "role": user.role}})
        else:
            say(f"user {lit(user.name)} added ({lit(user.role)})")


@users_app.command("list")
def users_list(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """The users and their roles."""
    from einklang.web.accounts import list_users

    with cli_errors(as_json):
        store = store_for(load(config))
        with store.read() as conn:
            users = list_users(conn)
        if as_json:
            emit_json({"ok": True, "users": [{"name": u.name, "role": u.role, "language": u.language} for u in users]})
            return
        if not users:
            say("no users yet: einklang users add NAME --role admin")
            return
        render_table("Users", ["name", "role", "language"], [[u.name, u.role, u.language or ""] for u in users])


@users_app.command("remove")
def users_remove(
    name: Annotated[str, typer.Argument(help="The user to remove (their sessions and API tokens end).")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remove a user; the decisions they took keep their name in the audit log."""
    from einklang.web.accounts import AccountError, remove_user

    with cli_errors(as_json):
        store = store_for(load(config))
        try:
            with store.transaction() as conn:
                remove_user(conn, name)
        except AccountError as exc:
            raise _account_errors(exc) from None
        if as_json:
            emit_json({"ok": True, "removed": name})
        else:
            say(f"user {lit(name)} removed")


@users_app.command("passwd")
def users_passwd(
    name: Annotated[str, typer.Argument(help="The user whose password changes (their sessions end).")],
    password_stdin: PasswordStdinOption = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set a user's password."""
    from einklang.web.accounts import AccountError, find_user, set_password

    with cli_errors(as_json):
        store = store_for(load(config))
        with store.read() as conn:
            if find_user(conn, name) is None:
                raise CliError(f"no user {name!r} (see `einklang users list`)", EXIT_NOT_FOUND)
        password = _password(password_stdin)
        try:
            with store.transaction() as conn:
                set_password(conn, name, password)
        except AccountError as exc:
            raise _account_errors(exc) from None
        if as_json:
            emit_json({"ok": True, "user": name})
        else:
            say(f"password of {lit(name)} changed; their sessions have ended")


@users_app.command("token")
def users_token(
    name: Annotated[str, typer.Argument(help="The user the token acts as (with their role).")],
    label: Annotated[str, typer.Option("--label", help="What the token is for (shown nowhere else).")] = "api",
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API token (printed once; send it as `Authorization: Bearer TOKEN`)."""
    from einklang.web.accounts import AccountError, create_token

    with cli_errors(as_json):
        store = store_for(load(config))
        try:
            with store.transaction() as conn:
                token = create_token(conn, name, label)
        except AccountError as exc:
            raise _account_errors(exc) from None
        # printed directly: the output masking of emit_json/say would hide the very token asked for
        if as_json:
            sys.stdout.write(json.dumps({"ok": True, "user": name, "token": token}) + "\n")
        else:
            typer.echo(token)
            err_console.print(f"API token of {lit(name)}: shown this once, keep it secret", style="dim")
