"""BottleCRM users (profiles) as the ``employee`` resource, against a real django-crm 1.35.

The shared connector contract does not fit this resource: BottleCRM lets an administrator
change neither a user's name nor e-mail address and einklang never deletes a user, while the
contract's records are free-text name/e-mail/city records that are renamed and deleted. These
tests hold the employee resource to the contract's promises that do apply (ids and versions,
paging, change detection, patches, stale versions, not found, find) and to its own rules
(deactivated on leaving, never deleted, read-only fields refused with a clear message).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from einklang.connectors.base import ChangePage, RecordNotFound, RecordRejected, StaleVersion
from einklang.connectors.bottlecrm import BottleCrmConnector
from einklang.testing.contract import MemorySnapshotStore, drain_changes

try:  # tests/ may or may not be a package, depending on who adds __init__ files
    from tests.integration.servers import RunningServer, bottlecrm_running, bottlecrm_server
except ImportError:  # pragma: no cover
    from servers import RunningServer, bottlecrm_running, bottlecrm_server  # type: ignore[no-redef]

pytestmark = pytest.mark.integration
__all__ = ["bottlecrm_running", "bottlecrm_server"]

MISSING = "00000000-0000-4000-8000-000000000000"


def make_connector(server: RunningServer, page_size: int = 2) -> BottleCrmConnector:
    return BottleCrmConnector(
        "crm", {"url": server.url, "token": server.info["token"], "page_size": page_size}, {"employee": {}}
    )


@pytest.fixture
def crm(bottlecrm_server: RunningServer) -> Iterator[BottleCrmConnector]:
    connector = make_connector(bottlecrm_server)
    yield connector
    connector.close()


@pytest.fixture
def admin_api(bottlecrm_server: RunningServer) -> Iterator[httpx.Client]:
    """Another API client of the organisation (a person in BottleCRM's team page)."""
    client = httpx.Client(
        base_url=bottlecrm_server.url, headers={"Authorization": f"Bearer {bottlecrm_server.info['token']}"}
    )
    yield client
    client.close()


def email() -> str:
    return f"mitarbeiter.{uuid.uuid4().hex[:8]}@example.org"


def by_email(crm: BottleCrmConnector) -> dict[str, dict[str, Any]]:
    return {r.fields["email"]: {"_id": r.native_id, **r.fields} for page in crm.read_all("employee") for r in page}


def test_employee_is_invited_read_patched_and_deactivated_never_deleted(crm: BottleCrmConnector) -> None:
    address = email()
    [anna] = crm.create("employee", [{"email": address, "phone": "+49 30 1234567", "has_sales_access": True}])
    assert anna.fields["email"] == address and anna.fields["is_active"] is True
    assert anna.fields["role"] == "USER" and anna.fields["has_sales_access"] is True
    assert anna.version and crm.get("employee", [anna.native_id])[anna.native_id] == anna
    moved = crm.update("employee", anna.native_id, {"phone": "+49 30 7654321", "role": "ADMIN"}, anna.version)
    assert (moved.fields["phone"], moved.fields["role"]) == ("+49 30 7654321", "ADMIN")
    assert moved.fields["has_sales_access"] is True  # a patch: the rest stays
    with pytest.raises(StaleVersion):
        crm.update("employee", anna.native_id, {"phone": "+49 30 1111111"}, anna.version)
    with pytest.raises(RecordRejected, match=r"e-mail|email"):
        crm.update("employee", anna.native_id, {"email": email()}, moved.version)
    with pytest.raises(RecordRejected, match="name"):
        crm.update("employee", anna.native_id, {"name": "Anna Neu"}, moved.version)
    crm.archive("employee", anna.native_id, moved.version)
    left = crm.get("employee", [anna.native_id])[anna.native_id]
    assert left.fields["is_active"] is False  # deactivated: still there, listed among the inactive
    assert by_email(crm)[address]["is_active"] is False
    back = crm.update("employee", anna.native_id, {"is_active": True}, left.version)
    assert back.fields["is_active"] is True
    with pytest.raises(RecordRejected, match="never deletes"):
        crm.delete("employee", anna.native_id, back.version)
    assert anna.native_id in crm.get("employee", [anna.native_id])


def test_an_employee_can_be_created_inactive_and_found_by_email(crm: BottleCrmConnector) -> None:
    address = email()
    [gone] = crm.create("employee", [{"email": address, "is_active": False}])
    assert gone.fields["is_active"] is False
    assert [r.native_id for r in crm.find("employee", {"email": address.upper()})] == [gone.native_id]
    assert crm.find("employee", {"email": email()}) == []


def test_a_refused_invitation_is_a_clear_rejection_and_a_batch_leaves_nothing(crm: BottleCrmConnector) -> None:
    with pytest.raises(RecordRejected, match="e-mail address"):
        crm.create("employee", [{"phone": "+49 30 1234567"}])
    taken = email()
    crm.create("employee", [{"email": taken}])
    fresh = email()
    with pytest.raises(RecordRejected, match="already exists"):
        crm.create("employee", [{"email": fresh}, {"email": taken}])
    assert fresh not in by_email(crm)  # the batch's first invitation was taken back
    refused_phone = email()
    with pytest.raises(RecordRejected, match="has_sales_access"):  # refused by the PATCH after the invitation
        crm.create("employee", [{"email": refused_phone, "has_sales_access": "vielleicht"}])
    assert refused_phone not in by_email(crm)
    with pytest.raises(RecordRejected, match="unknown employee fields: department"):
        crm.create("employee", [{"email": email(), "department": "Vertrieb"}])


def test_missing_employees_are_not_found(crm: BottleCrmConnector) -> None:
    assert crm.get("employee", [MISSING]) == {}
    with pytest.raises(RecordNotFound):
        crm.update("employee", MISSING, {"phone": "+49 30 1234567"}, None)
    with pytest.raises(RecordNotFound):
        crm.archive("employee", MISSING, None)


def test_read_all_pages_through_active_and_inactive_users(crm: BottleCrmConnector) -> None:
    before = set(by_email(crm))
    made = crm.create("employee", [{"email": email()} for _ in range(3)])
    crm.archive("employee", made[0].native_id, None)
    pages = list(crm.read_all("employee", page_size=2))
    ids = [record.native_id for page in pages for record in page]
    assert len(ids) == len(set(ids)) == len(before) + 3
    assert {r.native_id for r in made} <= set(ids)


def test_changes_are_found_by_hash_including_ones_made_elsewhere(
    crm: BottleCrmConnector, admin_api: httpx.Client
) -> None:
    snapshots = MemorySnapshotStore()
    [berta] = crm.create("employee", [{"email": email()}])
    first = drain_changes(crm, "employee", None, snapshots)
    assert berta.native_id in first.records
    assert drain_changes(crm, "employee", first.cursor, snapshots).records == {}  # quiet
    user_id = crm.employees._user_id(berta.native_id)
    admin_api.patch(f"/api/user/{user_id}/", json={"phone": "+49 89 5555555"}).raise_for_status()
    changed = drain_changes(crm, "employee", first.cursor, snapshots)
    assert changed.records[berta.native_id].fields["phone"] == "+49 89 5555555"
    admin_api.post(f"/api/user/{user_id}/status/", json={"status": "Inactive"}).raise_for_status()
    left = drain_changes(crm, "employee", changed.cursor, snapshots)
    assert left.records[berta.native_id].fields["is_active"] is False and not left.deleted_ids


def test_page_cursor_is_kept_until_the_scan_finished(crm: BottleCrmConnector) -> None:
    crm.create("employee", [{"email": email()} for _ in range(3)])
    pages: list[ChangePage] = list(crm.read_changes("employee", None, MemorySnapshotStore()))
    assert all(page.cursor is None for page in pages[:-1]) and pages[-1].cursor is not None


def test_an_accounts_account_manager_is_its_first_assigned_user(bottlecrm_server: RunningServer) -> None:
    crm = BottleCrmConnector(
        "crm",
        {"url": bottlecrm_server.url, "token": bottlecrm_server.info["token"]},
        {"employee": {}, "company": {"resource": "account"}},
    )
    try:
        anna, bernd = crm.create("employee", [{"email": email()}, {"email": email()}])
        [account] = crm.create("company", [{"name": f"Kunde {uuid.uuid4().hex[:6]}", "assigned_to": anna.native_id}])
        assert account.fields["assigned_to"] == anna.native_id
        moved = crm.update("company", account.native_id, {"assigned_to": bernd.native_id}, account.version)
        assert moved.fields["assigned_to"] == bernd.native_id  # the list is replaced, not added to
        listed = {r.native_id: r for page in crm.read_all("company") for r in page}
        assert listed[account.native_id].fields["assigned_to"] == bernd.native_id
        cleared = crm.update("company", account.native_id, {"assigned_to": None}, moved.version)
        assert cleared.fields["assigned_to"] is None
    finally:
        crm.close()
