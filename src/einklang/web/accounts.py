"""Users of the web app and the JSON API: accounts, sessions and API tokens in the state store.

Passwords are kept as argon2 hashes. Session ids and API tokens are random (32 bytes), handed to
the browser or the script once, and stored as SHA-256 hashes only: a copy of the state store lets
nobody sign in. Every function takes the connection of the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Connection

from einklang.store import schema as t
from einklang.store.state import utcnow

ROLES = ("viewer", "steward", "admin")
"""Each role may do what the roles before it may: a viewer sees, a steward decides, an admin
also manages users, starts sync cycles and undoes runs."""

SESSION_LIFETIME = dt.timedelta(hours=12)
"""A session ends this long after its last use (sliding)."""
SESSION_REFRESH = dt.timedelta(minutes=1)
MAX_NAME_LENGTH = 64
MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()


class AccountError(Exception):
    """A user name, role or password that cannot be used, or a user that does not exist."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    language: str | None
    disabled: bool

    def may(self, role: str) -> bool:
        """The user's role is ``role`` or a stronger one."""
        return ROLES.index(self.role) >= ROLES.index(role)


def _user(row: Any) -> User | None:
    if row is None:
        return None
    return User(int(row[0]), str(row[1]), str(row[2]), row[3], bool(row[4]))


_USER_COLUMNS = (t.users.c.id, t.users.c.name, t.users.c.role, t.users.c.language, t.users.c.disabled)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH or any(c.isspace() for c in name):
        raise AccountError(f"a user name has 1 to {MAX_NAME_LENGTH} characters and no spaces: {name!r}")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    return role


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def add_user(conn: Connection, name: str, role: str, password: str | None) -> User:
    """A new user; ``password`` None: the user signs in only through a trusted proxy header."""
    name = check_name(name)
    check_role(role)
    if find_user(conn, name) is not None:
        raise AccountError(f"user {name!r} already exists")
    now = utcnow()
    conn.execute(
        t.users.insert().values(
            name=name,
            role=role,
            password_hash=hash_password(password) if password is not None else None,
            created_at=now,
            updated_at=now,
        )
    )
    user = find_user(conn, name)
    assert user is not None
    return user


def find_user(conn: Connection, name: str) -> User | None:
    return _user(conn.execute(sa.select(*_USER_COLUMNS).where(t.users.c.name == name)).first())


def get_user(conn: Connection, user_id: int) -> User | None:
    return _user(conn.execute(sa.select(*_USER_COLUMNS).where(t.users.c.id == user_id)).first())


def list_users(conn: Connection) -> list[User]:
    rows = conn.execute(sa.select(*_USER_COLUMNS).order_by(t.users.c.name)).all()
    return [user for row in rows if (user := _user(row)) is not None]


def _existing(conn: Connection, name: str) -> User:
    user = find_user(conn, name)
    if user is None:
        raise AccountError(f"no user {name!r} (see `einklang users list`)")
    return user


def remove_user(conn: Connection, name: str) -> None:
    """The user, their sessions and their API tokens are gone; decisions they took keep their name."""
    user = _existing(conn, name)
    conn.execute(t.web_sessions.delete().where(t.web_sessions.c.user_id == user.id))
    conn.execute(t.api_tokens.delete().where(t.api_tokens.c.user_id == user.id))
    conn.execute(t.users.delete().where(t.users.c.id == user.id))


def set_password(conn: Connection, name: str, password: str) -> None:
    """A new password; the user's sessions end (a stolen session does not outlive the change)."""
    user = _existing(conn, name)
    conn.execute(
        t.users.update()
        .where(t.users.c.id == user.id)
        .values(password_hash=hash_password(password), updated_at=utcnow())
    )
    conn.execute(t.web_sessions.delete().where(t.web_sessions.c.user_id == user.id))


def set_language(conn: Connection, user_id: int, language: str) -> None:
    conn.execute(t.users.update().where(t.users.c.id == user_id).values(language=language, updated_at=utcnow()))


def verify_password(conn: Connection, name: str, password: str) -> User | None:
    """The user when the password is theirs (and the account is usable); None otherwise."""
    row = conn.execute(sa.select(t.users.c.password_hash).where(t.users.c.name == name)).first()
    stored = row[0] if row is not None else None
    try:
        if stored is None:
            # the same work as a real check: a missing user takes as long as a wrong password
            _hasher.verify(_DUMMY_HASH, password)
            return None
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    user = find_user(conn, name)
    return user if user is not None and not user.disabled else None


_DUMMY_HASH = _hasher.hash("not a password of anyone")


# ---------------------------------------------------------------------------- sessions
def create_session(conn: Connection, user_id: int) -> tuple[str, str]:
    """A new session: (session id for the cookie, CSRF token for the forms)."""
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = utcnow()
    conn.execute(
        t.web_sessions.insert().values(
            id_hash=hash_token(session_id),
            user_id=user_id,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    return session_id, csrf


def session_user(conn: Connection, session_id: str) -> tuple[User, str] | None:
    """The user of a live session and its CSRF token; the session lives on while it is used."""
    now = utcnow()
    row = conn.execute(
        sa.select(
            t.web_sessions.c.user_id,
            t.web_sessions.c.csrf_token,
            t.web_sessions.c.expires_at,
            t.web_sessions.c.last_seen_at,
        ).where(t.web_sessions.c.id_hash == hash_token(session_id))
    ).first()
    if row is None or row.expires_at <= now:
        return None
    user = get_user(conn, int(row.user_id))
    if user is None or user.disabled:
        return None
    if now - row.last_seen_at >= SESSION_REFRESH:
        # written at most once a minute: a page that polls every few seconds costs no write
        conn.execute(
            t.web_sessions.update()
            .where(t.web_sessions.c.id_hash == hash_token(session_id))
            .values(last_seen_at=now, expires_at=now + SESSION_LIFETIME)
        )
    return user, str(row.csrf_token)


def end_session(conn: Connection, session_id: str) -> None:
    conn.execute(t.web_sessions.delete().where(t.web_sessions.c.id_hash == hash_token(session_id)))
    conn.execute(t.web_sessions.delete().where(t.web_sessions.c.expires_at <= utcnow()))


# ---------------------------------------------------------------------------- API tokens
def create_token(conn: Connection, name: str, label: str = "api") -> str:
    """A new API token for the user (shown once; only its hash is kept)."""
    user = _existing(conn, name)
    token = "ek_" + secrets.token_urlsafe(32)
    conn.execute(
        t.api_tokens.insert().values(
            user_id=user.id, label=label[:64], token_hash=hash_token(token), created_at=utcnow()
        )
    )
    return token


def token_user(conn: Connection, token: str) -> User | None:
    row = conn.execute(
        sa.select(t.api_tokens.c.id, t.api_tokens.c.user_id, t.api_tokens.c.last_used_at).where(
            t.api_tokens.c.token_hash == hash_token(token)
        )
    ).first()
    if row is None:
        return None
    user = get_user(conn, int(row.user_id))
    if user is None or user.disabled:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= SESSION_REFRESH:
        conn.execute(t.api_tokens.update().where(t.api_tokens.c.id == row.id).values(last_used_at=now))
    return user
