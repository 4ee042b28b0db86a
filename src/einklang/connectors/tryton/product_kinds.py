"""Product kinds: ``product.category`` (product groups) and ``product.template`` with its variant."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from einklang.connectors.base import RecordRejected
from einklang.connectors.tryton.kinds import ChildModel, LoadedRecord, ModelKind
from einklang.connectors.tryton.options import TrytonEntityOptions
from einklang.connectors.tryton.wire import TrytonSession


def _reference_id(value: Any, what: str, system: str) -> int | None:
    """A foreign-key value as einklang holds it (the native id's text) -> Tryton's integer id."""
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError:
        raise RecordRejected(f"{what} must be the id of a Tryton record, not {value!r}", system=system) from None


def _check_fields(kind: ModelKind, fields: Mapping[str, Any]) -> None:
    """Refuses fields the kind does not have, naming the known ones."""
    unknown = set(fields) - set(kind.flat_fields)
    if unknown:
        raise RecordRejected(
            f"unknown {kind.name} fields: {', '.join(sorted(unknown))} (known: {', '.join(kind.flat_fields)})",
            system=kind.session.system,
        )


class ProductGroupKind(ModelKind):
    """``product.category``: name, code and the parent category (a reference: its native id)."""

    name = "product_group"
    model = "product.category"
    has_active_flag = False  # categories cannot be archived: deleting one deletes it
    flat_fields = ("name", "code", "parent")

    def load(self, ids: Sequence[int]) -> dict[int, LoadedRecord]:
        if not ids:
            return {}
        rows = self.session.model(self.model, "read", list(ids), ["name", "code", "parent", "_timestamp"])
        loaded: dict[int, LoadedRecord] = {}
        for row in rows:
            flat = {
                "name": row["name"],
                "code": row["code"] or None,
                "parent": str(row["parent"]) if row["parent"] else None,
            }
            timestamps = {f"{self.model},{row['id']}": str(row["_timestamp"])}
            loaded[row["id"]] = LoadedRecord(row["id"], flat, True, timestamps)
        return loaded

    def _values(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        _check_fields(self, fields)
        values: dict[str, Any] = {}
        if "name" in fields:
            if not fields["name"]:
                raise RecordRejected("a product group needs a name", system=self.session.system)
            values["name"] = fields["name"]
        if "code" in fields:
            values["code"] = fields["code"] or None
        if "parent" in fields:
            values["parent"] = _reference_id(fields["parent"], "parent", self.session.system)
        return values

    def create_values(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in self._values(fields).items() if value is not None}

    def write_values(self, current: LoadedRecord, patch: Mapping[str, Any]) -> dict[str, Any]:
        return self._values(patch)

    def prefilter_domain(self, criteria: Mapping[str, Any]) -> list[Any]:
        _check_fields(self, criteria)
        domain: list[Any] = []
        for name, value in criteria.items():
            if value is None:
                continue  # "empty" is checked on the flat record
            if name == "parent":
                domain.append(["parent", "=", _reference_id(value, "parent", self.session.system)])
            else:
                domain.append([name, "=", value])
        return domain


class ProductKind(ModelKind):
    """``product.template`` with its first variant (``product.product``) folded in.

    ``categories`` (many-to-many) is the list of the template's ``product.category`` ids, as texts
    in numeric order, for a ``many: true`` reference; writing it adds and removes the difference.
    ``category`` is the *first* of them in Tryton's own order (for configs that map one group per
    product): reading gives it, writing replaces the whole list with the one category.
    ``list_price`` is read and written in the session's company context (the user's current
    company), as a decimal in text form.
    """

    name = "product"
    model = "product.template"
    child_models = (ChildModel("product.product", "template"),)
    template_fields: ClassVar[tuple[str, ...]] = ("code", "name", "list_price")
    flat_fields = (*template_fields, "description", "default_uom", "category", "categories")

    def __init__(self, session: TrytonSession, options: TrytonEntityOptions) -> None:
        super().__init__(session, options)
        self._uom_ids: dict[str, int] = {}

    def load(self, ids: Sequence[int]) -> dict[int, LoadedRecord]:
        if not ids:
            return {}
        context = {"active_test": False}
        templates = self.session.model(
            self.model,
            "read",
            list(ids),
            [*self.template_fields, "active", "default_uom.symbol", "categories", "products", "_timestamp"],
            context=context,
        )
        variant_ids = [template["products"][0] for template in templates if template["products"]]
        variants = (
            {
                row["id"]: row
                for row in self.session.model(
                    "product.product", "read", variant_ids, ["description", "_timestamp"], context=context
                )
            }
            if variant_ids
            else {}
        )
        loaded: dict[int, LoadedRecord] = {}
        for template in templates:
            uom = template.get("default_uom.") or {}
            price = template["list_price"]
            flat: dict[str, Any] = {
                "code": template["code"] or None,
                "name": template["name"],
                "list_price": str(price) if price is not None else None,
                "default_uom": uom.get("symbol"),
                "category": str(template["categories"][0]) if template["categories"] else None,
                "categories": [str(one) for one in sorted(template["categories"])],
                "description": None,
            }
            timestamps = {f"{self.model},{template['id']}": str(template["_timestamp"])}
            children: dict[str, Any] = {"variant": None, "categories": list(template["categories"])}
            variant = variants.get(template["products"][0]) if template["products"] else None
            if variant:
                children["variant"] = variant["id"]
                timestamps[f"product.product,{variant['id']}"] = str(variant["_timestamp"])
                flat["description"] = variant["description"] or None
            loaded[template["id"]] = LoadedRecord(template["id"], flat, bool(template["active"]), timestamps, children)
        return loaded

    def _uom_id(self, symbol: Any) -> int:
        wanted = str(symbol) if symbol not in (None, "") else "u"  # Tryton's "Unit" by default
        if wanted not in self._uom_ids:
            found = self.session.model("product.uom", "search", [["symbol", "=", wanted]], 0, 1, None)
            if not found:
                raise RecordRejected(
                    f"unit of measure {wanted!r} does not exist in Tryton (product.uom symbol)",
                    system=self.session.system,
                )
            self._uom_ids[wanted] = found[0]
        return self._uom_ids[wanted]

    def _template_values(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if "name" in fields:
            if not fields["name"]:
                raise RecordRejected("a product needs a name", system=self.session.system)
            values["name"] = fields["name"]
        if "code" in fields:
            values["code"] = fields["code"] or None
        if "list_price" in fields:
            price = fields["list_price"]
            if price not in (None, "") and self.session.company() is None:
                raise RecordRejected(
                    "list_price is kept per company in Tryton, and the connector's user has no current company",
                    system=self.session.system,
                )
            values["list_price"] = _decimal(price, self.session.system) if price not in (None, "") else None
        if "default_uom" in fields:
            values["default_uom"] = self._uom_id(fields["default_uom"])
        return values

    def create_values(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        _check_fields(self, fields)
        values = self._template_values(fields)
        values.setdefault("default_uom", self._uom_id(None))
        values["type"] = "goods"
        categories = self._categories(fields)
        if categories:
            values["categories"] = [["add", categories]]
        values["products"] = [["create", [{"description": fields.get("description") or None}]]]
        return {name: value for name, value in values.items() if value is not None}

    def write_values(self, current: LoadedRecord, patch: Mapping[str, Any]) -> dict[str, Any]:
        _check_fields(self, patch)
        values = self._template_values(patch)
        if "category" in patch or "categories" in patch:
            wanted = self._categories(patch)
            held = list(current.children["categories"])
            commands: list[Any] = []
            if "category" in patch:  # one category replaces the list, in Tryton's order too
                if held and held != wanted:
                    commands.append(["remove", held])
                    held = []
            else:
                removed = [one for one in held if one not in wanted]
                if removed:
                    commands.append(["remove", removed])
            added = [one for one in wanted if one not in held]
            if added:
                commands.append(["add", added])
            if commands:
                values["categories"] = commands
        if "description" in patch:
            description = patch["description"] or None
            if current.children["variant"] is not None:
                values["products"] = [["write", [current.children["variant"]], {"description": description}]]
            else:
                values["products"] = [["create", [{"description": description}]]]
        return values

    def _categories(self, fields: Mapping[str, Any]) -> list[int]:
        """The ``product.category`` ids that ``category`` or ``categories`` asks for (not both)."""
        system = self.session.system
        if "category" in fields and "categories" in fields:
            raise RecordRejected("map either category (the first) or categories (all), not both", system=system)
        if "categories" not in fields:
            category = _reference_id(fields.get("category"), "category", system)
            return [] if category is None else [category]
        listed = fields["categories"]
        if listed is None:
            return []
        if isinstance(listed, str) or not isinstance(listed, Sequence):
            raise RecordRejected(f"categories must be a list of category ids, not {listed!r}", system=system)
        ids = (_reference_id(one, "categories", system) for one in listed)
        return sorted({one for one in ids if one is not None})

    def prefilter_domain(self, criteria: Mapping[str, Any]) -> list[Any]:
        _check_fields(self, criteria)
        domain: list[Any] = []
        for name, value in criteria.items():
            if value is None or name == "categories":
                continue  # "empty" and the list of categories are checked on the flat record
            if name in ("code", "name"):
                domain.append([name, "=", value])
            elif name == "description":
                domain.append(["products.description", "=", value])
            elif name == "default_uom":
                domain.append(["default_uom.symbol", "=", value])
            elif name == "category":
                domain.append(["categories", "=", _reference_id(value, "category", self.session.system)])
            # list_price is a company-dependent value: compared on the flat record only
        return domain


def _decimal(value: Any, system: str) -> dict[str, str]:
    """A price as Tryton's JSON-RPC wants a Decimal."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise RecordRejected(f"list_price must be a decimal number, not {value!r}", system=system) from None
    return {"__class__": "Decimal", "decimal": str(number)}
