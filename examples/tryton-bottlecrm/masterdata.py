"""Product groups, products and employees: the ERP's master data in the CRM (issue 12).

Used by run.py's last steps. Tryton holds product categories, products (template with its
variant, list price in the company's context, categories) and employees (``company.employee``
with its party); BottleCRM holds products (the group's *name* in the ``category`` text field)
and users. Everything is entered as the users would: in Tryton over JSON-RPC, and read back
from BottleCRM over REST.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # run.py imports this module; these are its classes
    from run import Checks, Crm, Erp

COMPANY_NAME = "Einklang Handel GmbH"
# The company's own parties (itself, its employees) are no customers: einklang.yaml's company
# entity reads only the parties outside this party category (the Tryton kind's ``domain``).
STAFF_CATEGORY = "Mitarbeiter"
GROUPS = (("WZ", "Werkzeuge"), ("GA", "Garten"), ("EL", "Elektro"))
# (number, name, group code, list price, description)
PRODUCTS = (
    ("A100", "Hammer 500 g", "WZ", "12.90", "Schlosserhammer, Eschenstiel"),
    ("A101", "Kombizange 180 mm", "WZ", "9.50", None),
    ("A102", "Spaten", "GA", "24.00", "Gehärtetes Blatt"),
    ("A103", "Gartenschere", "GA", "15.75", None),
    ("A104", "Verlängerungskabel 5 m", "EL", "8.99", "3 x 1,5 mm²"),
    ("A105", "Akkuschrauber 18 V", "WZ", "89.00", None),
)
# (name, e-mail, phone)
EMPLOYEES = (
    ("Anna Berger", "anna.berger@einklang-handel.example", "+49 30 1234501"),
    ("Jörg Müller", "joerg.mueller@einklang-handel.example", "+49 30 1234502"),
    ("Selin Öztürk", "selin.oeztuerk@einklang-handel.example", "+49 30 1234503"),
    ("Thomas Weiß", "thomas.weiss@einklang-handel.example", "+49 30 1234504"),
)
MOVED = ("A105", "EL")  # the cordless screwdriver moves from Werkzeuge to Elektro
NEW_GROUP = ("BL", "Beleuchtung")
NEW_PRODUCT = ("A200", "LED-Arbeitsleuchte", "BL", "34.50", "Akku, 2000 lm")
LEAVER = EMPLOYEES[3][1]  # Thomas Weiß leaves the company


class ErpMasterData:
    """The master data in Tryton, entered over JSON-RPC (what a Tryton client does)."""

    def __init__(self, erp: Erp) -> None:
        self.erp = erp
        self.company: int | None = None
        self.staff_category: int | None = None

    def ensure_company(self) -> None:
        """Employees belong to a company and list prices are kept per company: the user needs one."""
        call = self.erp.call
        [self.staff_category] = call("party.category", "create", [{"name": STAFF_CATEGORY}])
        found = call("company.company", "search", [], 0, 1, None)
        if found:
            self.company = int(found[0])
        else:
            [euro] = call("currency.currency", "create", [{"name": "Euro", "code": "EUR", "symbol": "€"}])
            staff = [["add", [self.staff_category]]]
            [party] = call("party.party", "create", [{"name": COMPANY_NAME, "categories": staff}])
            [self.company] = call("company.company", "create", [{"party": party, "currency": euro}])
        [user] = call("res.user", "search", [["login", "=", self.erp.session.user]], 0, 1, None)
        call("res.user", "write", [user], {"companies": [["add", [self.company]]], "company": self.company})
        self.erp.session.login()  # the company comes with the login's context

    def group_id(self, code: str) -> int:
        [found] = self.erp.call("product.category", "search", [["code", "=", code]], 0, None, None)
        return int(found)

    def create_group(self, code: str, name: str) -> int:
        return int(self.erp.call("product.category", "create", [{"code": code, "name": name}])[0])

    def create_product(self, number: str, name: str, group: str, price: str, description: str | None) -> int:
        [unit] = self.erp.call("product.uom", "search", [["symbol", "=", "u"]], 0, 1, None)
        values = {
            "code": number,
            "name": name,
            "type": "goods",
            "default_uom": unit,
            "list_price": {"__class__": "Decimal", "decimal": price},
            "categories": [["add", [self.group_id(group)]]],
            "products": [["create", [{"description": description}]]],
        }
        return int(self.erp.call("product.template", "create", [values])[0])

    def move_product(self, number: str, group: str) -> None:
        [template] = self.erp.call("product.template", "search", [["code", "=", number]], 0, None, None)
        [current] = self.erp.call("product.template", "read", [template], ["categories"])
        self.erp.call(
            "product.template",
            "write",
            [template],
            {"categories": [["remove", current["categories"]], ["add", [self.group_id(group)]]]},
        )

    def create_employee(self, name: str, email: str, phone: str) -> int:
        mechanisms = [{"type": "email", "value": email}, {"type": "phone", "value": phone}]
        values = {
            "name": name,
            "contact_mechanisms": [["create", mechanisms]],
            "categories": [["add", [self.staff_category]]],
        }
        [party] = self.erp.call("party.party", "create", [values])
        start = dt.date(2020, 1, 1)
        employee = {
            "party": party,
            "company": self.company,
            "start_date": {"__class__": "date", "year": start.year, "month": start.month, "day": start.day},
        }
        return int(self.erp.call("company.employee", "create", [employee])[0])

    def employee_leaves(self, email: str) -> None:
        """The last working day was yesterday: Tryton shows the employee as inactive from today."""
        found = self.erp.call(
            "company.employee", "search", [["party.contact_mechanisms.value", "=", email]], 0, None, None
        )
        [employee] = found
        day = dt.date.today() - dt.timedelta(days=1)
        self.erp.call(
            "company.employee",
            "write",
            [employee],
            {"end_date": {"__class__": "date", "year": day.year, "month": day.month, "day": day.day}},
        )

    def seed(self) -> None:
        self.ensure_company()
        for code, name in GROUPS:
            self.create_group(code, name)
        for product in PRODUCTS:
            self.create_product(*product)
        for employee in EMPLOYEES:
            self.create_employee(*employee)


class CrmMasterData:
    """The master data as BottleCRM's REST API shows it."""

    def __init__(self, crm: Crm) -> None:
        self.crm = crm

    def products(self) -> dict[str, dict[str, Any]]:
        """Products by SKU."""
        rows: list[dict[str, Any]] = []
        while True:
            page = self.crm._ok(
                self.crm.client.get("/api/invoices/products/", params={"limit": 100, "offset": len(rows)})
            )
            rows.extend(page["results"])
            if not page["results"] or len(rows) >= int(page["count"]):
                return {str(row.get("sku") or ""): row for row in rows}

    def users(self) -> dict[str, dict[str, Any]]:
        """Users (active and deactivated) by e-mail address."""
        found: dict[str, dict[str, Any]] = {}
        offset = 0
        while True:
            page = self.crm._ok(self.crm.client.get("/api/users/", params={"limit": 100, "offset": offset}))
            rows = page["active_users"]["active_users"] + page["inactive_users"]["inactive_users"]
            for row in rows:
                found[str(row["user_details"]["email"]).lower()] = row
            if len(page["active_users"]["active_users"]) < 100 and len(page["inactive_users"]["inactive_users"]) < 100:
                return found
            offset += 100


def masterdata_steps(
    step: Callable[[str], None],
    say: Callable[[str], None],
    check: Checks,
    erp: Erp,
    crm: Crm,
    sync_until_quiet: Callable[[], int],
) -> None:
    """Seed the ERP's master data, sync it to the CRM, change it, sync again; check every step."""
    erp_data, crm_data = ErpMasterData(erp), CrmMasterData(crm)
    groups = dict(GROUPS)

    step(
        f"10. master data: {len(GROUPS)} product groups, {len(PRODUCTS)} products and "
        f"{len(EMPLOYEES)} employees entered in Tryton"
    )
    accounts_before = len(crm.accounts())
    erp_data.seed()
    admins_before = {email for email, row in crm_data.users().items() if row["is_active"]}
    cycles = sync_until_quiet()
    say(f"  synced in {cycles} cycle(s)")
    products = crm_data.products()
    check(
        set(products) >= {p[0] for p in PRODUCTS},
        "CRM: every ERP product is in the product catalogue",
        sorted(set(p[0] for p in PRODUCTS) - set(products)),
    )
    wrong_group = {
        number: (products.get(number, {}).get("category"), groups[group])
        for number, _, group, _, _ in PRODUCTS
        if products.get(number, {}).get("category") != groups[group]
    }
    check(not wrong_group, "CRM: each product's category is its ERP group's name", wrong_group)
    wrong_price = {
        number: products.get(number, {}).get("price")
        for number, _, _, price, _ in PRODUCTS
        if Decimal(str(products.get(number, {}).get("price") or "NaN")) != Decimal(price)
    }
    check(not wrong_price, "CRM: each product's price is the ERP's list price", wrong_price)
    users = crm_data.users()
    check(
        all(users.get(email, {}).get("is_active") is True for _, email, _ in EMPLOYEES),
        "CRM: every employee is an active user, invited by e-mail",
        {email: users.get(email, {}).get("is_active") for _, email, _ in EMPLOYEES},
    )
    check(
        all(_digits(users.get(email, {}).get("phone")) == _digits(phone) for _, email, phone in EMPLOYEES),
        "CRM: every employee's phone number arrived",
        {email: users.get(email, {}).get("phone") for _, email, _ in EMPLOYEES},
    )

    check(
        len(crm.accounts()) == accounts_before,
        "CRM: the employees' and the company's own parties did not become customer accounts",
        len(crm.accounts()) - accounts_before,
    )

    step(
        f"11. in Tryton: {MOVED[0]} moves to {groups[MOVED[1]]}; a new product {NEW_PRODUCT[0]} in a new "
        f"group {NEW_GROUP[1]}; {LEAVER} leaves (end date yesterday)"
    )
    erp_data.move_product(*MOVED)
    erp_data.create_group(*NEW_GROUP)
    erp_data.create_product(*NEW_PRODUCT)
    erp_data.employee_leaves(LEAVER)
    cycles = sync_until_quiet()
    say(f"  synced in {cycles} cycle(s)")
    products = crm_data.products()
    moved = products.get(MOVED[0], {}).get("category")
    check(moved == groups[MOVED[1]], f"CRM: {MOVED[0]} is in {groups[MOVED[1]]} now", moved)
    new = products.get(NEW_PRODUCT[0], {})
    check(
        new.get("category") == NEW_GROUP[1] and new.get("name") == NEW_PRODUCT[1],
        f"CRM: the new product is there, in the new group {NEW_GROUP[1]}",
        new,
    )
    check(len(products) == len(PRODUCTS) + 1, f"CRM: {len(PRODUCTS) + 1} products, none twice", sorted(products))
    users = crm_data.users()
    leaver = users.get(LEAVER)
    check(
        leaver is not None and leaver["is_active"] is False,
        f"CRM: {LEAVER} is deactivated, not deleted",
        leaver and leaver["is_active"],
    )
    check(
        all(users.get(email, {}).get("is_active") is True for _, email, _ in EMPLOYEES if email != LEAVER),
        "CRM: the other employees stay active",
    )
    check(
        all(users.get(email, {}).get("is_active") is True for email in admins_before),
        "CRM: the CRM's own users (its admin) are left alone",
    )


def _digits(phone: Any) -> str:
    return "".join(ch for ch in str(phone or "") if ch.isdigit())
