"""An imported order as Segment-spec messages: an identify for the buyer and an "Order Completed" track.

messageIds are derived from the source and the order id, so importing the same order again is
dropped by the (source, messageId) uniqueness of events: re-imports change nothing.

A message needs a userId or an anonymousId. Imports rarely know the shop's user id, and a made-up
user id would block merges with the buyer's web profile (two user ids never merge), so the buyer
gets a stable anonymousId derived from their email or phone (hashed, so no contact detail leaks
into ids); the email, phone and external ids in context then join them to an existing profile.
"""

from __future__ import annotations

import hashlib
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tracking.imports.types import ParsedOrder

ORDER_EVENT = "Order Completed"
LIBRARY = {"name": "voyage-order-import", "version": "1"}
CENT = Decimal("0.01")


def track_message_id(source_name: str, order_id: str) -> str:
    return f"order:{source_name}:{order_id}"


def identify_message_id(source_name: str, order_id: str) -> str:
    return f"order-buyer:{source_name}:{order_id}"


def _money(value: Decimal) -> float:
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _buyer_ids(order: ParsedOrder, source_name: str) -> dict[str, str]:
    buyer = order.buyer
    if buyer.user_id or buyer.anonymous_id:
        return {k: v for k, v in (("userId", buyer.user_id), ("anonymousId", buyer.anonymous_id)) if v}
    anchor = buyer.email or buyer.phone
    if anchor:
        digest = hashlib.sha256(f"{source_name}:{anchor}".encode()).hexdigest()[:24]
        return {"anonymousId": f"import-buyer-{digest}"}
    # No contact at all: the order still counts, on a profile of its own.
    return {"anonymousId": f"import-order:{source_name}:{order.order_id}"}


def order_properties(order: ParsedOrder) -> dict[str, Any]:
    subtotal = sum((item.price * item.quantity for item in order.items), Decimal(0))
    revenue = order.revenue if order.revenue is not None else subtotal - order.discount
    properties: dict[str, Any] = {
        "order_id": order.order_id,
        "total": _money(revenue + order.tax + order.shipping),
        "revenue": _money(revenue),
        "shipping": _money(order.shipping),
        "tax": _money(order.tax),
        "discount": _money(order.discount),
        "currency": order.currency,
        "products": [
            {
                key: value
                for key, value in (
                    ("product_id", item.product_id or item.sku),
                    ("sku", item.sku),
                    ("name", item.name),
                    ("price", _money(item.price)),
                    ("quantity", item.quantity),
                    ("category", item.category),
                )
                if value != ""
            }
            for item in order.items
        ],
    }
    if order.coupon:
        properties["coupon"] = order.coupon
    if order.affiliation:
        properties["affiliation"] = order.affiliation
    return properties


def order_messages(order: ParsedOrder, *, source_name: str) -> list[dict[str, Any]]:
    buyer = order.buyer
    contact = {k: v for k, v in (("email", buyer.email), ("phone", buyer.phone)) if v}
    context: dict[str, Any] = {"library": LIBRARY, "traits": contact}
    if buyer.external_ids:
        context["externalIds"] = buyer.external_ids
    ids = _buyer_ids(order, source_name)
    timestamp = order.purchased_at.isoformat()
    messages: list[dict[str, Any]] = []
    traits = {**buyer.traits, **contact}
    if buyer.name:
        traits["name"] = buyer.name
    if buyer.address:
        traits["address"] = buyer.address
    if traits:
        messages.append(
            {
                "type": "identify",
                "messageId": identify_message_id(source_name, order.order_id),
                **ids,
                "traits": traits,
                "timestamp": timestamp,
                "context": context,
            }
        )
    messages.append(
        {
            "type": "track",
            "event": ORDER_EVENT,
            "messageId": track_message_id(source_name, order.order_id),
            **ids,
            "properties": order_properties(order),
            "timestamp": timestamp,
            "context": context,
        }
    )
    return messages
