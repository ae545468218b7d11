"""JSON lines: one order per line, with Segment-like field names.

A line is either the order's properties at the top level or a Segment track message whose
`properties` hold them; both read the same:

    {"order_id": "1001", "timestamp": "2026-05-01T10:00:00Z", "userId": "u1",
     "traits": {"email": "ana@example.com", "phone": "+4915112345678", "name": "Ana"},
     "currency": "EUR", "tax": 3.2, "shipping": 4.9, "discount": 0, "coupon": "SPRING",
     "products": [{"product_id": "p1", "sku": "SKU-1", "name": "Mug", "price": 12.5, "quantity": 2}]}

Contact details are read from `traits`, `context.traits` or the top level; `context.externalIds`
is kept. `revenue` may be given; otherwise it is the items' total minus the discount.
"""

from __future__ import annotations

from typing import Any, TextIO

import orjson

from tracking.imports.fields import (
    contact_email,
    contact_phone,
    country_code,
    parse_amount,
    parse_currency,
    parse_quantity,
    parse_when,
)
from tracking.imports.rows import order_id_check
from tracking.imports.types import (
    ERROR,
    WARNING,
    Buyer,
    FieldError,
    OrderItem,
    ParsedOrder,
    Progress,
    ReadResult,
    RowIssue,
)


def read_jsonl(stream: TextIO, *, default_currency: str = "", progress: Progress | None = None) -> ReadResult:
    result = ReadResult()
    seen: dict[str, int] = {}
    for line, text in enumerate(stream, start=1):
        if progress is not None:
            progress.update(1)
        if not text.strip():
            continue
        result.rows_read += 1
        order_id = ""
        try:
            try:
                data = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise FieldError(f"not valid JSON ({exc})")
            if not isinstance(data, dict):
                raise FieldError("must be a JSON object")
            fields = {**data, **data["properties"]} if isinstance(data.get("properties"), dict) else data
            order_id = order_id_check(_text(fields.get("order_id")), "order_id")
            if not order_id:
                raise FieldError("order_id: missing")
            if order_id in seen:
                raise FieldError(f"order_id: {order_id} already on line {seen[order_id]}")
            warnings: list[str] = []
            order = _order(line, order_id, data, fields, default_currency, warnings)
        except ValueError as exc:
            result.issues.append(RowIssue(line, str(exc), order_id, ERROR))
            result.skipped_rows += 1
            result.skipped_orders += 1
            continue
        seen[order_id] = line
        result.issues.extend(RowIssue(line, w, order_id, WARNING) for w in warnings)
        result.orders.append(order)
    return result


def _text(value: Any) -> str:
    if value is None or isinstance(value, bool | dict | list):
        return ""
    return str(value).strip()


def _order(
    line: int, order_id: str, data: dict[str, Any], fields: dict[str, Any], currency: str, warnings: list[str]
) -> ParsedOrder:
    context = data.get("context") if isinstance(data.get("context"), dict) else {}
    traits: dict[str, Any] = {}
    for source in (context.get("traits"), data.get("traits")):
        if isinstance(source, dict):
            traits.update(source)
    for key in ("email", "phone", "name"):
        if key not in traits and data.get(key):
            traits[key] = data[key]
    address = traits.get("address") if isinstance(traits.get("address"), dict) else {}
    country = country_code(address.get("country") or traits.get("country"))
    email = contact_email(traits.pop("email", None), "traits.email", warnings)
    phone = contact_phone(traits.pop("phone", None), "traits.phone", country or None, warnings)
    external = context.get("externalIds")
    buyer = Buyer(
        email=email,
        phone=phone,
        name=_text(traits.pop("name", "")),
        user_id=_text(data.get("userId"))[:255],
        anonymous_id=_text(data.get("anonymousId"))[:255],
        address={k: _text(v) for k, v in address.items() if _text(v)},
        external_ids=[
            {**x, "id": str(x["id"]), "type": str(x["type"])}
            for x in external or []
            if isinstance(x, dict) and x.get("id") and x.get("type")
        ]
        if isinstance(external, list)
        else [],
        traits={k: v for k, v in traits.items() if k != "address"},
    )
    products = fields.get("products")
    if not isinstance(products, list) or not products:
        raise FieldError("products: a non-empty list of products is required")
    items = []
    for index, product in enumerate(products):
        where = f"products[{index}]"
        if not isinstance(product, dict):
            raise FieldError(f"{where}: must be an object")
        quantity = parse_quantity(product.get("quantity"), f"{where}.quantity")
        items.append(
            OrderItem(
                sku=_text(product.get("sku")),
                name=_text(product.get("name")),
                price=parse_amount(product.get("price"), f"{where}.price", required=True),
                quantity=quantity,
                product_id=_text(product.get("product_id")) or _text(product.get("sku")),
                category=_text(product.get("category")),
            )
        )
    items = [i for i in items if i.quantity > 0]
    if not items:
        raise FieldError("products: no product with a quantity above 0")
    revenue = fields.get("revenue")
    return ParsedOrder(
        order_id=order_id,
        line=line,
        purchased_at=parse_when(
            data.get("timestamp") or data.get("originalTimestamp") or fields.get("purchased_at"), "timestamp"
        ),
        currency=parse_currency(fields.get("currency"), "currency", currency),
        buyer=buyer,
        items=items,
        tax=parse_amount(fields.get("tax"), "tax"),
        shipping=parse_amount(fields.get("shipping"), "shipping"),
        discount=abs(parse_amount(fields.get("discount"), "discount", allow_negative=True)),
        coupon=_text(fields.get("coupon")),
        affiliation=_text(fields.get("affiliation")),
        revenue=None if revenue in (None, "") else parse_amount(revenue, "revenue"),
        lines=[line],
    )
