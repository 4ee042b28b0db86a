"""BottleCRM users (an organisation's *profiles*) as einklang's ``employee`` resource.

What django-crm 1.35's API allows for them, read from its source (``common/views/
user_views.py``, ``common/serializer.py``), and what follows (docs/connectors/bottlecrm.md):

- list: ``GET /api/users/`` (organisation admins only) answers two lists, active and inactive
  profiles, paged together by one limit/offset; ``?email=`` narrows by "contains".
- create: ``POST /api/users/`` invites an e-mail address with a role (``USER``/``ADMIN``);
  phone and access flags sent with it are silently dropped, so they are written by a PATCH
  right after. The answer is 201 with a message and **no id**: the new profile is looked up
  by its e-mail address (unique per organisation).
- update: ``PATCH /api/user/<user id>/`` writes phone, role and the access flags. The e-mail
  address cannot be changed ("Email cannot be changed here") and the person's *name* is not
  writable by an administrator at all (only the user's own ``/api/profile/``): both are read
  only. An admin cannot change their own role (silently ignored by BottleCRM).
- deactivate: ``POST /api/user/<user id>/status/`` with ``Active`` / ``Inactive``; the last
  active admin cannot be deactivated (400). einklang's ``archive`` and ``is_active: false``
  use it. **Never deleted**: ``delete`` refuses (a user who leaves is deactivated).
- no modification time: the version is a hash of the fields (snapshot change detection).

The native id is the *profile* id (what accounts' ``assigned_to`` holds); the detail routes
take the *user* id, which the list rows carry and this module remembers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from einklang.connectors._http import create_all_or_none
from einklang.connectors.base import NativeRecord, RecordNotFound, RecordRejected

if TYPE_CHECKING:
    from einklang.connectors.bottlecrm._resources import Resource
    from einklang.connectors.bottlecrm.connector import BottleCrmConnector, _Scan

LIST_PATH = "/api/users/"
FIELDS = ("email", "name", "phone", "role", "has_sales_access", "has_marketing_access", "date_of_joining", "is_active")
# written with the invitation or by PATCH; the rest is read only (see the module's docstring)
PROFILE_FIELDS = ("phone", "role", "has_sales_access", "has_marketing_access")
READ_ONLY = ("name", "date_of_joining")
_BLOCKS = (
    ("active_users", "active_users", "active_users_count"),
    ("inactive_users", "inactive_users", "inactive_users_count"),
)


class EmployeeEndpoint:
    """The ``employee`` resource's reads and writes, for :class:`BottleCrmConnector`."""

    def __init__(self, connector: BottleCrmConnector, resource: Resource) -> None:
        self.connector = connector
        self.resource = resource
        self.system = connector.system
        self._user_ids: dict[str, str] = {}  # profile id -> user id (the detail routes take it)

    # ------------------------------------------------------------------ reading
    def _flat(self, row: Mapping[str, Any]) -> dict[str, Any]:
        user = row.get("user_details") or {}
        profile_id = str(row["id"])
        if user.get("id"):
            self._user_ids[profile_id] = str(user["id"])
        flat: dict[str, Any] = {"id": profile_id, "email": user.get("email"), "name": user.get("name")}
        flat.update({name: row[name] for name in FIELDS if name in row})
        return flat

    def _page(self, params: Mapping[str, Any]) -> tuple[list[dict[str, Any]], int, bool]:
        body = self.connector._request("GET", LIST_PATH, params=params).json()
        rows = [self._flat(row) for outer, inner, _ in _BLOCKS for row in body[outer][inner]]
        count = sum(int(body[outer][counter]) for outer, _, counter in _BLOCKS)
        more = any(len(body[outer][inner]) == params["limit"] for outer, inner, _ in _BLOCKS)
        return rows, count, more

    def pages(self, scan: _Scan, limit: int, params: Mapping[str, Any] | None = None) -> Iterator[list[dict[str, Any]]]:
        """Flat rows of active and inactive profiles, page by page (like the accounts' two lists)."""
        offset = 0
        seen: set[str] = set()
        while True:
            rows, count, more = self._page({**(params or {}), "limit": limit, "offset": offset})
            if scan.expected_count is None:
                scan.expected_count = count
            elif count != scan.expected_count:
                scan.consistent = False
            fresh = [row for row in rows if row["id"] not in seen]
            if len(fresh) != len(rows):
                scan.consistent = False
            seen.update(row["id"] for row in fresh)
            yield fresh
            if not more:
                break
            offset += limit
        if not params and len(seen) != scan.expected_count:
            scan.consistent = False

    def _scan_all(self, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        from einklang.connectors.bottlecrm.connector import _Scan

        return [row for rows in self.pages(_Scan(), self.connector.page_size, params) for row in rows]

    def _user_id(self, profile_id: str) -> str:
        if profile_id not in self._user_ids:
            self._scan_all()
        try:
            return self._user_ids[profile_id]
        except KeyError:
            raise RecordNotFound(f"no BottleCRM user with profile id {profile_id}", system=self.system,
                                 record_id=profile_id) from None  # fmt: skip

    def get_one(self, profile_id: str) -> NativeRecord:
        user_id = self._user_id(profile_id)
        body = self.connector._request("GET", f"/api/user/{user_id}/", record_id=profile_id).json()
        return self.connector._native(self.resource, self._flat(body["data"]["profile_obj"]))

    def find(self, criteria: Mapping[str, Any], limit: int) -> list[NativeRecord]:
        params = {"email": criteria["email"]} if criteria.get("email") else None
        found = []
        for row in self._scan_all(params):
            record = self.connector._native(self.resource, row)
            if all(_same(name, record.fields.get(name), value) for name, value in criteria.items()):
                found.append(record)
        return found[:limit]

    # ------------------------------------------------------------------ writing
    def _check(self, fields: Mapping[str, Any], record_id: str | None) -> None:
        unknown = set(fields) - set(FIELDS)
        if unknown:
            raise RecordRejected(
                f"unknown employee fields: {', '.join(sorted(unknown))} (known: {', '.join(FIELDS)})",
                system=self.system, record_id=record_id,
            )  # fmt: skip

    def create(self, records: Sequence[Mapping[str, Any]]) -> list[NativeRecord]:
        def create_one(fields: Mapping[str, Any]) -> NativeRecord:
            self._check(fields, None)
            email = fields.get("email")
            if not email:
                raise RecordRejected("a BottleCRM user needs an e-mail address (it is invited by it)",
                                     system=self.system)  # fmt: skip
            # the invitation stores the e-mail address and the role only (phone and access flags
            # sent with it are dropped by BottleCRM): they are written right after
            payload: dict[str, Any] = {"email": email, "role": fields.get("role") or "USER"}
            # Not idempotent: retried only when the server cannot have created it. The answer
            # carries no id: the new profile is found by its e-mail address.
            self.connector._request("POST", LIST_PATH, json=payload, idempotent=False)
            created = next(iter(self.find({"email": str(email).lower()}, 1)), None)
            if created is None:
                raise RecordRejected(f"BottleCRM accepted the user {email} but does not list it", system=self.system)
            rest = {n: fields[n] for n in (*PROFILE_FIELDS, "is_active") if n != "role" and n in fields}
            try:
                return self.update(created, rest) if rest else created
            except RecordRejected:
                undo(created)  # a refused phone: the invitation is taken back, nothing half-made stays
                raise

        def undo(record: NativeRecord) -> None:  # only a profile this very batch invited
            user_id = self._user_id(record.native_id)
            self.connector._request("DELETE", f"/api/user/{user_id}/", record_id=record.native_id)

        return create_all_or_none(records, create_one, undo, system=self.system)

    def update(self, current: NativeRecord, patch: Mapping[str, Any]) -> NativeRecord:
        native_id = current.native_id
        self._check(patch, native_id)
        for name in ("email", *READ_ONLY):
            if name in patch and not _same(name, current.fields.get(name), patch[name]):
                raise RecordRejected(
                    f"BottleCRM does not let an administrator change a user's {name} through its API "
                    f"({current.fields.get(name)!r} -> {patch[name]!r})",
                    system=self.system, record_id=native_id,
                )  # fmt: skip
        profile = {name: ("" if value is None else value) for name, value in patch.items() if name in PROFILE_FIELDS}
        if profile:
            user_id = self._user_id(native_id)
            self.connector._request("PATCH", f"/api/user/{user_id}/", json=profile, record_id=native_id)
        if (
            "is_active" in patch
            and patch["is_active"] is not None
            and patch["is_active"] != current.fields.get("is_active")
        ):
            self._set_active(native_id, bool(patch["is_active"]))
        return self.get_one(native_id)

    def _set_active(self, profile_id: str, active: bool) -> None:
        user_id = self._user_id(profile_id)
        self.connector._request(
            "POST", f"/api/user/{user_id}/status/", json={"status": "Active" if active else "Inactive"},
            record_id=profile_id,
        )  # fmt: skip

    def archive(self, profile_id: str) -> None:
        """A user who leaves: deactivated (they can no longer sign in), never deleted."""
        self._set_active(profile_id, False)

    def refuse_delete(self, profile_id: str) -> None:
        self.get_one(profile_id)  # a missing one is RecordNotFound, as for any resource
        raise RecordRejected(
            "einklang never deletes a BottleCRM user: one who leaves is deactivated (use the delete policy archive)",
            system=self.system, record_id=profile_id,
        )  # fmt: skip


def first_assigned(assigned: Any) -> str | None:
    """An account's ``assigned_to`` (its users, as profiles or ids) -> the first one's profile id.

    einklang maps one account manager (a foreign key to an employee); BottleCRM keeps a list.
    """
    if not assigned:
        return None
    first = assigned[0]
    return str(first["id"] if isinstance(first, Mapping) else first)


def assigned_list(profile_id: Any) -> list[str]:
    """One account manager -> ``assigned_to`` as BottleCRM takes it: the list replaces the old one."""
    return [str(profile_id)] if profile_id not in (None, "") else []


def _same(name: str, have: Any, want: Any) -> bool:
    if name == "email" and isinstance(have, str) and isinstance(want, str):
        return have.casefold() == want.casefold()
    return bool(have == want or (have in (None, "") and want in (None, "")))
