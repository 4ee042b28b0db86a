"""Every Tryton kind by the name an entity's ``kind`` option gives."""

from __future__ import annotations

from einklang.connectors.tryton.employee_kind import EmployeeKind
from einklang.connectors.tryton.kinds import ModelKind, PartyKind
from einklang.connectors.tryton.product_kinds import ProductGroupKind, ProductKind

KINDS: dict[str, type[ModelKind]] = {
    kind.name: kind for kind in (PartyKind, ProductGroupKind, ProductKind, EmployeeKind)
}
