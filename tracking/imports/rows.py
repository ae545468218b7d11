"""Joining one-item-per-row files (Amazon reports, CSV exports) into orders.

Rows that share an order id form one order, wherever they are in the file. One bad row takes its
whole order out (a partial order would report the wrong revenue); the row's line is reported and
every row of that order is counted as skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from tracking.imports.types import ERROR, WARNING, Buyer, OrderItem, ParsedOrder, ReadResult, RowIssue

# The longest order id that still fits a messageId ("order:<source>:<order id>", 200 characters).
MAX_ORDER_ID = 90


@dataclass
class OrderRow:
    line: int
    order_id: str
    purchased_at: datetime
    currency: str
    buyer: Buyer
    item: OrderItem | None  # None: the row is part of the order but adds no item (e.g. cancelled item)
    tax: Decimal = Decimal(0)
    shipping: Decimal = Decimal(0)
    discount: Decimal = Decimal(0)
    coupon: str = ""
    affiliation: str = ""
    warnings: list[str] = field(default_factory=list)


class OrderAssembler:
    def __init__(self, result: ReadResult) -> None:
        self.result = result
        self._orders: dict[str, ParsedOrder] = {}
        self._bad: dict[str, list[int]] = {}  # order id -> lines of its rows, once the order is out

    def reject(self, line: int, reason: str, order_id: str = "", severity: str = ERROR) -> None:
        """Report a row that cannot be used; its order (if known) is left out entirely."""
        self.result.issues.append(RowIssue(line, reason, order_id, severity))
        if not order_id:
            self.result.skipped_rows += 1
            return
        lines = self._bad.setdefault(order_id, [])
        order = self._orders.pop(order_id, None)
        if order is not None:
            lines.extend(order.lines)
        lines.append(line)

    def add(self, row: OrderRow) -> None:
        for warning in row.warnings:
            self.result.issues.append(RowIssue(row.line, warning, row.order_id, WARNING))
        if row.order_id in self._bad:
            self._bad[row.order_id].append(row.line)
            return
        order = self._orders.get(row.order_id)
        if order is None:
            order = ParsedOrder(
                order_id=row.order_id,
                line=row.line,
                purchased_at=row.purchased_at,
                currency=row.currency,
                buyer=row.buyer,
                coupon=row.coupon,
                affiliation=row.affiliation,
            )
            self._orders[row.order_id] = order
        elif row.currency != order.currency:
            self.reject(
                row.line,
                f"currency: {row.currency} differs from {order.currency} on line {order.line} of the same order",
                row.order_id,
            )
            return
        else:
            # Later rows may carry contact details the first one lacked.
            order.buyer.email = order.buyer.email or row.buyer.email
            order.buyer.phone = order.buyer.phone or row.buyer.phone
            order.buyer.name = order.buyer.name or row.buyer.name
            order.coupon = order.coupon or row.coupon
        order.lines.append(row.line)
        if row.item is not None:
            order.items.append(row.item)
        order.tax += row.tax
        order.shipping += row.shipping
        order.discount += row.discount

    def finish(self) -> None:
        for order in self._orders.values():
            if order.items:
                self.result.orders.append(order)
            else:
                self.result.issues.append(
                    RowIssue(order.line, "no item left to import in this order", order.order_id, ERROR)
                )
                self._bad[order.order_id] = order.lines
        for lines in self._bad.values():
            self.result.skipped_rows += len(lines)
            self.result.skipped_orders += 1
        self.result.orders.sort(key=lambda o: o.line)
        self.result.issues.sort(key=lambda i: i.line)


def order_id_check(value: str, column: str) -> str:
    """The order id, or '' when missing; raises ValueError when too long to use."""
    order_id = (value or "").strip()
    if len(order_id) > MAX_ORDER_ID:
        raise ValueError(f"{column}: longer than {MAX_ORDER_ID} characters")
    return order_id
