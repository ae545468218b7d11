"""Generic CSV order exports: one row per order item, columns named by a mapping.

The mapping says which column holds each of our fields (`{"order_id": "Order Number", ...}`); a
field left out of the mapping is looked up under common names (see FIELDS), compared without case,
spaces, dashes or underscores. `price` is the unit price; `tax`, `shipping` and `discount` are
summed over the order's rows, so exports that repeat order totals on every row must map them on
one row only (or not at all). The delimiter (comma, semicolon or tab) is detected.
"""

from __future__ import annotations

import csv
import re
from typing import Any, TextIO

from tracking.imports.fields import (
    contact_email,
    contact_phone,
    country_code,
    parse_amount,
    parse_currency,
    parse_quantity,
    parse_when,
)
from tracking.imports.rows import OrderAssembler, OrderRow, order_id_check
from tracking.imports.types import Buyer, ImportFailed, OrderItem, Progress, ReadResult

# Our field -> the column names tried when the mapping does not name one.
FIELDS: dict[str, tuple[str, ...]] = {
    "order_id": ("order_id", "order_number", "order", "order_no", "id"),
    "purchased_at": ("purchased_at", "purchase_date", "order_date", "created_at", "date", "timestamp"),
    "email": ("email", "customer_email", "buyer_email"),
    "phone": ("phone", "customer_phone", "buyer_phone", "phone_number"),
    "name": ("customer_name", "buyer_name", "billing_name", "full_name"),
    "user_id": ("user_id", "customer_id"),
    "sku": ("sku", "lineitem_sku", "variant_sku"),
    "product_id": ("product_id",),
    "product_name": ("product_name", "lineitem_name", "item_name", "product", "title"),
    "category": ("category", "product_category"),
    "price": ("price", "unit_price", "lineitem_price", "item_price"),
    "quantity": ("quantity", "qty", "lineitem_quantity"),
    "currency": ("currency",),
    "tax": ("tax", "taxes"),
    "shipping": ("shipping", "shipping_price"),
    "discount": ("discount", "discount_amount"),
    "coupon": ("coupon", "discount_code", "coupon_code"),
    "country": ("country", "ship_country", "shipping_country", "billing_country"),
    "city": ("city", "ship_city", "shipping_city"),
    "state": ("state", "ship_state", "shipping_province", "province"),
    "postal_code": ("postal_code", "zip", "ship_postal_code", "shipping_zip"),
    "status": ("status", "order_status", "financial_status"),
    "affiliation": ("affiliation", "store", "sales_channel"),
}
REQUIRED = ("order_id", "purchased_at", "price")
CANCELLED = {"cancelled", "canceled", "refunded", "voided"}


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", "_", name.strip().lower())


def columns_resolve(header: list[str], mapping: dict[str, Any] | None) -> dict[str, int]:
    """Our field -> column index. Raises ImportFailed naming the bad mapping entry or missing column."""
    mapping = mapping or {}
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise ImportFailed(
            f"mapping: unknown field(s) {', '.join(unknown)}; known fields: {', '.join(FIELDS)}"
        )
    by_name = {_norm(h): i for i, h in enumerate(header)}
    resolved: dict[str, int] = {}
    for field_name, candidates in FIELDS.items():
        if field_name in mapping:
            column = mapping[field_name]
            if not isinstance(column, str) or _norm(column) not in by_name:
                raise ImportFailed(
                    f"mapping.{field_name}: column {column!r} is not in the header "
                    f"(columns: {', '.join(header)})"
                )
            resolved[field_name] = by_name[_norm(column)]
            continue
        for candidate in candidates:
            if candidate in by_name:
                resolved[field_name] = by_name[candidate]
                break
    missing = [f for f in REQUIRED if f not in resolved]
    if not any(f in resolved for f in ("sku", "product_id", "product_name")):
        missing.append("sku (or product_id or product_name)")
    if missing:
        raise ImportFailed(
            f"line 1: no column for {', '.join(missing)}; name it in the mapping "
            f'(e.g. --mapping \'{{"order_id": "Order Number"}}\'); columns: {", ".join(header)}'
        )
    return resolved


def read_csv(
    stream: TextIO,
    *,
    mapping: dict[str, Any] | None = None,
    default_currency: str = "",
    progress: Progress | None = None,
) -> ReadResult:
    sample = stream.read(8192)
    stream.seek(0)
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(stream, dialect)
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise ImportFailed("the file is empty")
    columns = columns_resolve(header, mapping)
    result = ReadResult()
    orders = OrderAssembler(result)
    last_line = reader.line_num
    for cells in reader:
        # A quoted cell may span lines: a record starts on the line after the previous one ended.
        line, last_line = last_line + 1, reader.line_num
        if progress is not None:
            progress.update(1)
        if not any(c.strip() for c in cells):
            continue
        result.rows_read += 1

        def cell(field_name: str, cells: list[str] = cells) -> str:
            index = columns.get(field_name)
            return cells[index].strip() if index is not None and index < len(cells) else ""

        order_id = ""
        try:
            order_id = order_id_check(cell("order_id"), "order_id")
            if not order_id:
                raise ValueError("order_id: missing")
            if cell("status").lower() in CANCELLED:
                orders.reject(
                    line, f"status: {cell('status')}; only completed sales are imported", order_id, "skipped"
                )
                continue
            orders.add(_row(line, order_id, cell, default_currency))
        except ValueError as exc:
            orders.reject(line, str(exc), order_id)
    orders.finish()
    return result


def _row(line: int, order_id: str, cell: Any, default_currency: str) -> OrderRow:
    warnings: list[str] = []
    country = country_code(cell("country"))
    address = {
        key: value
        for key, value in (
            ("city", cell("city")),
            ("state", cell("state")),
            ("postalCode", cell("postal_code")),
            ("country", country),
        )
        if value
    }
    buyer = Buyer(
        email=contact_email(cell("email"), "email", warnings),
        phone=contact_phone(cell("phone"), "phone", country or None, warnings),
        name=cell("name"),
        user_id=cell("user_id")[:255],
        address=address,
    )
    quantity = parse_quantity(cell("quantity"), "quantity")
    item = None
    if quantity > 0:
        item = OrderItem(
            sku=cell("sku"),
            name=cell("product_name"),
            price=parse_amount(cell("price"), "price", required=True),
            quantity=quantity,
            product_id=cell("product_id") or cell("sku"),
            category=cell("category"),
        )
    return OrderRow(
        line=line,
        order_id=order_id,
        purchased_at=parse_when(cell("purchased_at"), "purchased_at"),
        currency=parse_currency(cell("currency"), "currency", default_currency),
        buyer=buyer,
        item=item,
        tax=parse_amount(cell("tax"), "tax"),
        shipping=parse_amount(cell("shipping"), "shipping"),
        discount=abs(parse_amount(cell("discount"), "discount", allow_negative=True)),
        coupon=cell("coupon"),
        affiliation=cell("affiliation"),
        warnings=warnings,
    )
