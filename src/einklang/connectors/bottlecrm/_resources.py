"""The BottleCRM endpoints einklang reads and writes, and the fields it maps on each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    """One BottleCRM list/detail endpoint and the flat fields einklang reads and writes."""

    name: str
    path: str
    detail_key: str
    fields: tuple[str, ...]
    required: tuple[str, ...]
    has_updated_at: bool
    list_key: str = "contact_obj_list"  # where a list page holds its rows (accounts: two lists)
    created_key: str = ""  # where a create's answer holds the new record ("" = at the top)
    update_method: str = "PATCH"  # products: a PUT that is partial (no PATCH route)
    null_fields: tuple[str, ...] = ("account",)  # sent as null when empty (others as "")
    # The ``entity_type`` under which BottleCRM's activity feed (/api/activities/) logs the
    # resource's creates, updates and deletes; None: no feed, every read of changes scans the list.
    activity_type: str | None = None


ACCOUNT = Resource(
    name="account",
    path="/api/accounts/",
    detail_key="account_obj",
    fields=(
        "name",
        "email",
        "phone",
        "website",
        "industry",
        "address_line",
        "city",
        "state",
        "postcode",
        "country",
        "description",
        "is_active",
    ),
    required=("name",),
    has_updated_at=False,
    activity_type="Account",
)
CONTACT = Resource(
    name="contact",
    path="/api/contacts/",
    detail_key="contact_obj",
    fields=(
        "first_name",
        "last_name",
        "email",
        "phone",
        "organization",
        "title",
        "department",
        "address_line",
        "city",
        "state",
        "postcode",
        "country",
        "description",
        "do_not_call",
        "linkedin_url",
        "account",
        "is_active",
    ),
    required=("first_name", "last_name"),
    has_updated_at=True,
    activity_type="Contact",
)
# The product catalogue (``invoices`` app). ``category`` is free text: a product group is held
# by its name (``ref_value: name``). Changing it needs an organisation administrator's token.
PRODUCT = Resource(
    name="product",
    path="/api/invoices/products/",
    detail_key="",
    fields=("name", "description", "sku", "price", "currency", "category", "is_active"),
    required=("name",),
    has_updated_at=True,
    list_key="results",
    created_key="product",
    update_method="PUT",
    # A SKU is unique per organisation, so "no SKU" must be null, not a second "".
    null_fields=("sku", "category", "price"),
)
RESOURCES: dict[str, Resource] = {ACCOUNT.name: ACCOUNT, CONTACT.name: CONTACT, PRODUCT.name: PRODUCT}
