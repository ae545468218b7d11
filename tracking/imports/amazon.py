"""Amazon Seller Central order reports: the tab-separated flat files, one row per order item.

Amazon has several order reports with slightly different headers; this reads the common columns of
all of them: the order id is `amazon-order-id` (All Orders, Fulfilled Shipments) or `order-id`
(Unshipped / New Orders); the quantity is `quantity-purchased`, `quantity` or `quantity-shipped`.
`item-price`, `item-tax`, `shipping-price` and `item-promotion-discount` are totals for the row's
quantity, as Amazon reports them. Files are plain TSV without quoting (product names may contain
quote marks), so each record is one line.
"""

from __future__ import annotations

import csv
from typing import TextIO

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
from tracking.imports.types import Buyer as BuyerInfo
from tracking.imports.types import ImportFailed, OrderItem, Progress, ReadResult

ORDER_ID = ("amazon-order-id", "order-id")
QUANTITY = ("quantity-purchased", "quantity", "quantity-shipped")
PHONE = ("buyer-phone-number", "ship-phone-number")
REQUIRED = ("purchase-date", "sku", "item-price")
CANCELLED = {"cancelled", "canceled"}
# The external id type the buyer's Amazon email is kept under (the address Amazon relays to the buyer).
EXTERNAL_ID_TYPE = "amazon_buyer_email"


def _first_present(header: list[str], names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in header), None)


def read_amazon(
    stream: TextIO, *, default_currency: str = "", progress: Progress | None = None
) -> ReadResult:
    reader = csv.reader(stream, delimiter="\t", quoting=csv.QUOTE_NONE)
    header = [h.strip().lower() for h in next(reader, [])]
    if not header or header == [""]:
        raise ImportFailed("the file is empty")
    order_col = _first_present(header, ORDER_ID)
    missing = [n for n in REQUIRED if n not in header]
    if order_col is None or missing:
        wanted = ([] if order_col else ["amazon-order-id"]) + missing
        hint = " (is it tab-separated?)" if len(header) == 1 else ""
        raise ImportFailed(f"line 1: not an Amazon order report{hint}: missing column(s) {', '.join(wanted)}")
    qty_col = _first_present(header, QUANTITY)
    phone_col = _first_present(header, PHONE)
    result = ReadResult()
    orders = OrderAssembler(result)
    for cells in reader:
        line = reader.line_num
        if progress is not None:
            progress.update(1)
        if not any(c.strip() for c in cells):
            continue
        result.rows_read += 1
        row = dict(zip(header, cells, strict=False))
        order_id = ""
        try:
            order_id = order_id_check(row.get(order_col, ""), order_col)
            if not order_id:
                raise ValueError(f"{order_col}: missing")
            if len(cells) != len(header):
                raise ValueError(f"has {len(cells)} columns, the header has {len(header)}")
            orders.add(_row(line, order_id, row, qty_col, phone_col, default_currency))
        except ValueError as exc:
            orders.reject(line, str(exc), order_id)
        except _Skip as exc:
            orders.reject(line, str(exc), order_id, severity="skipped")
    orders.finish()
    return result


class _Skip(Exception):
    """A row that is fine but not a completed sale (a cancelled order)."""


def _row(
    line: int, order_id: str, row: dict[str, str], qty_col: str | None, phone_col: str | None, currency: str
) -> OrderRow:
    status = row.get("order-status", "").strip()
    if status.lower() in CANCELLED:
        raise _Skip(f"order-status: {status}; only completed sales are imported")
    warnings: list[str] = []
    country = country_code(row.get("ship-country"))
    email = contact_email(row.get("buyer-email"), "buyer-email", warnings)
    buyer = BuyerInfo(
        email=email,
        phone=contact_phone(row.get(phone_col or "", ""), phone_col or "", country or None, warnings),
        name=row.get("buyer-name", "").strip() or row.get("recipient-name", "").strip(),
        address={
            key: value
            for key, value in (
                ("city", row.get("ship-city", "").strip()),
                ("state", row.get("ship-state", "").strip()),
                ("postalCode", row.get("ship-postal-code", "").strip()),
                ("country", country),
            )
            if value
        },
        external_ids=[{"id": email, "type": EXTERNAL_ID_TYPE, "collection": "users", "encoding": "none"}]
        if email
        else [],
    )
    quantity = parse_quantity(row.get(qty_col or "", ""), qty_col or "quantity")
    line_total = parse_amount(row.get("item-price"), "item-price", required=True)
    item_status = row.get("item-status", "").strip().lower()
    item = None
    if quantity > 0 and item_status not in CANCELLED:
        item = OrderItem(
            sku=row.get("sku", "").strip(),
            name=row.get("product-name", "").strip(),
            price=line_total / quantity,
            quantity=quantity,
            product_id=row.get("asin", "").strip() or row.get("sku", "").strip(),
        )
    return OrderRow(
        line=line,
        order_id=order_id,
        purchased_at=parse_when(row.get("purchase-date"), "purchase-date"),
        currency=parse_currency(row.get("currency"), "currency", currency),
        buyer=buyer,
        item=item,
        tax=parse_amount(row.get("item-tax"), "item-tax"),
        shipping=parse_amount(row.get("shipping-price"), "shipping-price"),
        # Some reports write promotion discounts as negative amounts; the discount is the size.
        discount=abs(
            parse_amount(row.get("item-promotion-discount"), "item-promotion-discount", allow_negative=True)
        ),
        coupon=row.get("item-promotion-id", "").strip() or row.get("promotion-ids", "").strip(),
        affiliation=row.get("sales-channel", "").strip() or "Amazon",
        warnings=warnings,
    )
