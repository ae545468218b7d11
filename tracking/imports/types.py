"""What the format readers hand to the import service: parsed orders and the rows they could not use."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol


class ImportFailed(Exception):
    """The whole file cannot be imported (unreadable, wrong format, unknown source, bad mapping)."""


class FieldError(ValueError):
    """One value in one row is unusable; the text names the column and the value."""


class Progress(Protocol):
    """Anything with tqdm's `update(n)`; the readers call it once per row read."""

    def update(self, n: int = 1) -> Any: ...


ERROR = "error"  # the row (and the order it belongs to) was skipped
WARNING = "warning"  # the order was imported without the value named


@dataclass(frozen=True)
class RowIssue:
    line: int
    reason: str
    order_id: str = ""
    severity: str = ERROR

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "order_id": self.order_id,
            "severity": self.severity,
            "reason": self.reason,
        }

    def __str__(self) -> str:
        order = f" (order {self.order_id})" if self.order_id else ""
        return f"line {self.line}{order}: {self.severity}: {self.reason}"


@dataclass
class OrderItem:
    sku: str
    name: str
    price: Decimal  # per unit
    quantity: int
    product_id: str = ""
    category: str = ""


@dataclass
class Buyer:
    email: str | None = None  # normalised
    phone: str | None = None  # E.164
    name: str = ""
    user_id: str = ""
    anonymous_id: str = ""
    address: dict[str, str] = field(default_factory=dict)
    external_ids: list[dict[str, str]] = field(default_factory=list)
    traits: dict[str, Any] = field(default_factory=dict)  # further traits given by the file (JSON lines)


@dataclass
class ParsedOrder:
    order_id: str
    line: int  # the first line of the order in the file
    purchased_at: datetime
    currency: str
    buyer: Buyer
    items: list[OrderItem] = field(default_factory=list)
    tax: Decimal = Decimal(0)
    shipping: Decimal = Decimal(0)
    discount: Decimal = Decimal(0)
    coupon: str = ""
    affiliation: str = ""
    revenue: Decimal | None = None  # when the file states it; otherwise items − discount
    lines: list[int] = field(default_factory=list)


@dataclass
class ReadResult:
    rows_read: int = 0
    orders: list[ParsedOrder] = field(default_factory=list)
    issues: list[RowIssue] = field(default_factory=list)
    skipped_rows: int = 0
    skipped_orders: int = 0
