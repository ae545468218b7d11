"""What each demo shopper did: Segment-spec messages for their sessions, and their Amazon orders.

Sessions follow Segment's e-commerce event names (Products Searched, Product Viewed, Product
Added, Cart Viewed, Checkout Started, Order Completed). A first visit is anonymous and carries
the campaign the shopper came from; signing up identifies with userId + anonymousId. App users
browse anonymously on a second device first and log in days later, so ID-Mapping has real
profiles to merge.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlencode

from tracking.demo import behaviour
from tracking.demo.catalogue import USD_RATES, Product, catalogue
from tracking.demo.shoppers import Shopper

SHOP_URL = "https://shop.example.com"
WEB_LIBRARY = {"name": "analytics.js", "version": "next-1.74.0"}
USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36",
)
APP_CONTEXT = {
    "app": {
        "name": "Voyage Coffee",
        "version": "3.2.1",
        "build": "321",
        "namespace": "com.example.voyagecoffee",
    },
    "os": {"name": "iOS", "version": "17.5"},
    "device": {"type": "ios", "manufacturer": "Apple", "model": "iPhone15,2"},
    "library": {"name": "analytics-ios", "version": "4.1.8"},
}
SEARCHES = ("decaf", "grinder", "matcha", "gift", "espresso", "kettle", "cold brew", "mug", "tea sampler")
COUPONS = ("WELCOME10", "SPRING15", "BREWBLOG5")
AMAZON_HEADER = (
    "amazon-order-id",
    "merchant-order-id",
    "purchase-date",
    "last-updated-date",
    "order-status",
    "fulfillment-channel",
    "sales-channel",
    "ship-service-level",
    "product-name",
    "sku",
    "asin",
    "item-status",
    "quantity-purchased",
    "currency",
    "item-price",
    "item-tax",
    "shipping-price",
    "item-promotion-discount",
    "ship-city",
    "ship-state",
    "ship-postal-code",
    "ship-country",
    "buyer-email",
    "buyer-name",
    "buyer-phone-number",
)
CENT = Decimal("0.01")
LANDING_PARAMS = ("gclid", "fbclid", "ttclid", "ref")


@dataclass
class Timeline:
    """One shopper's messages, each with the moment it happened (for chronological ingestion)."""

    shopper: Shopper
    now: datetime
    messages: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list)
    amazon_rows: list[list[str]] = field(default_factory=list)
    orders: int = 0

    def add(self, at: datetime, message: dict[str, Any]) -> None:
        message["messageId"] = f"demo-{self.shopper.index}-{len(self.messages)}"
        message["timestamp"] = at.isoformat()
        self.messages.append((at, message))


def _money(value: Decimal) -> float:
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _page_context(shopper: Shopper, campaign: dict[str, str] | None, path: str, agent: str) -> dict[str, Any]:
    query = ""
    if campaign:
        # utm_* tags, plus the ad platform's click id or a partner's ref as they are (not utm_).
        utm = {(k if k in LANDING_PARAMS else f"utm_{k}"): v for k, v in campaign.items()}
        query = "?" + urlencode(utm)
    context: dict[str, Any] = {
        "locale": shopper.market.locale,
        "timezone": shopper.timezone,
        "userAgent": agent,
        "library": WEB_LIBRARY,
        "page": {"path": path, "url": f"{SHOP_URL}{path}{query}", "search": query},
    }
    if campaign:
        context["campaign"] = {k: v for k, v in campaign.items() if k not in LANDING_PARAMS}
        context["page"]["referrer"] = f"https://{campaign['source']}/" if "." in campaign["source"] else ""
        if campaign.get("medium") == "affiliate":
            context["referrer"] = {"type": "affiliate", "id": campaign["content"]}
    return context


def _app_context(shopper: Shopper) -> dict[str, Any]:
    return {**APP_CONTEXT, "locale": shopper.market.locale, "timezone": shopper.timezone}


def _session(
    t: Timeline,
    rng: random.Random,
    *,
    start: datetime,
    ids: dict[str, str],
    context: dict[str, Any],
    app: bool,
    can_order: bool,
    buys: bool = False,
) -> datetime:
    """Browse, maybe search, maybe buy (`buys`: a visit made to buy, it ends in an order). Returns when
    the session ended."""
    shopper, currency = t.shopper, t.shopper.market.currency
    at = start

    def step(message: dict[str, Any], seconds: tuple[int, int] = (15, 120)) -> None:
        nonlocal at
        at += timedelta(seconds=rng.randint(*seconds))
        t.add(at, {**ids, "context": context, **message})

    if app:
        step({"type": "screen", "name": "Home"}, (0, 2))
    else:
        step({"type": "page", "name": "Home", "properties": {"path": "/", "title": "Voyage Coffee"}}, (0, 2))
        behaviour.home_promotions(t, at=at, ids=ids, context=context)
    if rng.random() < 0.3:
        search = behaviour.search_properties(t, query=rng.choice(SEARCHES))
        step({"type": "track", "event": "Products Searched", "properties": search})
        behaviour.search_click(t, at=at, ids=ids, context=context, search=search, currency=currency)
    products = catalogue()
    viewed: list[Product] = rng.sample(products, rng.choice((1, 1, 2, 3)))
    viewed = behaviour.viewed_products(t, viewed=viewed)
    for position, product in enumerate(viewed, start=1):
        step(
            {
                "type": "track",
                "event": "Product Viewed",
                "properties": {**product.as_properties(currency), "position": position},
            }
        )
    behaviour.new_products(t, at=at, ids=ids, context=context, currency=currency)
    if not buys and rng.random() > 0.4:
        return at
    cart_id = f"cart-{shopper.index}-{len(t.messages)}"
    cart = [(p, rng.choice((1, 1, 1, 2))) for p in viewed[: rng.randint(1, min(2, len(viewed)))]]
    for product, quantity in cart:
        step(
            {
                "type": "track",
                "event": "Product Added",
                "properties": {**product.as_properties(currency), "cart_id": cart_id, "quantity": quantity},
            }
        )
    # The brewer's accessory, put in the cart from its "goes well with" suggestion. No message of its
    # own: the timeline keeps its messages (and with them every other random stream and moment).
    cart += [(extra, 1) for extra in behaviour.cart_companions(t, cart=[p for p, _ in cart])]
    lines = [{**p.as_properties(currency), "quantity": q} for p, q in cart]
    if not buys and rng.random() > 0.8:
        return at
    step({"type": "track", "event": "Cart Viewed", "properties": {"cart_id": cart_id, "products": lines}})
    if not buys and rng.random() > 0.7:
        return at
    subtotal = sum((p.price(currency) * q for p, q in cart), Decimal(0))
    step(
        {
            "type": "track",
            "event": "Checkout Started",
            "properties": {"revenue": _money(subtotal), "currency": currency, "products": lines},
        }
    )
    if not can_order or (not buys and rng.random() > 0.8):
        return at
    t.orders += 1
    coupon = rng.choice(COUPONS) if rng.random() < 0.15 else ""
    discount = (subtotal * Decimal("0.1")) if coupon else Decimal(0)
    revenue = subtotal - discount
    free_over = Decimal(50) * USD_RATES[currency]
    shipping = Decimal(0) if revenue >= free_over else (Decimal("4.99") * USD_RATES[currency])
    if currency == "JPY":
        shipping = shipping.quantize(Decimal(1))
    tax = revenue * Decimal(shopper.market.tax_rate)
    properties: dict[str, Any] = {
        "order_id": f"W{shopper.index:05d}-{t.orders}",
        "affiliation": "Voyage Coffee iOS" if app else "Voyage Coffee Web",
        "total": _money(revenue + tax + shipping),
        "revenue": _money(revenue),
        "shipping": _money(shipping),
        "tax": _money(tax),
        "discount": _money(discount),
        "currency": currency,
        "products": lines,
    }
    if coupon:
        properties["coupon"] = coupon
    step({"type": "track", "event": "Order Completed", "properties": properties}, (60, 240))
    behaviour.refund(t, at=at, ids=ids, context=context, order_id=properties["order_id"])
    return at


def shopper_timeline(shopper: Shopper, *, rng: random.Random, now: datetime) -> Timeline:
    t = Timeline(shopper=shopper, now=now)
    if shopper.amazon_only:
        _amazon_orders(t, rng)
        return t
    latest = now - timedelta(hours=1)
    agent = rng.choice(USER_AGENTS)
    anon = {"anonymousId": shopper.web_anonymous_id}
    first_ctx = _page_context(shopper, shopper.campaign, "/", agent)
    end = _session(t, rng, start=shopper.first_visit, ids=anon, context=first_ctx, app=False, can_order=False)
    web_ids: dict[str, str] = anon
    if shopper.signs_up:
        signup = end + timedelta(minutes=rng.randint(1, 5))
        web_ids = {"userId": shopper.user_id, "anonymousId": shopper.web_anonymous_id}
        traits = {
            "email": shopper.email,
            "phone": shopper.phone,
            "firstName": shopper.first_name,
            "lastName": shopper.last_name,
            "name": shopper.name,
            "address": shopper.address,
            "timezone": shopper.timezone,
            "locale": shopper.market.locale,
            "createdAt": signup.isoformat(),
        }
        t.add(signup, {"type": "identify", **web_ids, "traits": traits, "context": first_ctx})
        t.add(
            signup + timedelta(seconds=2),
            {
                "type": "track",
                "event": "Signed Up",
                **web_ids,
                "properties": {"method": "email"},
                "context": first_ctx,
            },
        )
        end = signup
    visits = (
        rng.choices((0, 1, 2, 3, 5), (30, 34, 20, 10, 6))[0] if shopper.signs_up else rng.choice((0, 0, 0, 1))
    )
    at = end
    for _ in range(visits):
        at += timedelta(hours=rng.uniform(6, 24 * 20))
        if at > latest:
            break
        context = _page_context(shopper, None, "/", agent)
        at = _session(t, rng, start=at, ids=web_ids, context=context, app=False, can_order=shopper.signs_up)
    if shopper.signs_up:
        _habit_purchases(t, start=end, latest=latest, ids=web_ids, agent=agent)
    if shopper.app_anonymous_id:
        _app_sessions(t, rng, start=end, latest=latest)
    _amazon_orders(t, rng)
    return t


HABIT_SHARE = 0.35  # signed-up shoppers who come back to buy on a rhythm of their own
LAPSE_SHARE = 0.7  # of those, who stop after a few orders (the CLV page's value at risk)


def _habit_purchases(
    t: Timeline, *, start: datetime, latest: datetime, ids: dict[str, str], agent: str
) -> None:
    """Regular customers: a purchase every `cadence` days (4–14, ± a third). Most lapse after 2–6 orders —
    buy a few times, then stop — the rest are still buying; so recency, frequency and silence since
    the last order vary as in a real shop, and the CLV fit sees both alive and lapsed buyers. Their own
    random stream (seeded by the shopper), so every other figure of the demo stays what it was."""
    rng = random.Random(f"habit-{t.shopper.index}")
    if rng.random() >= HABIT_SHARE:
        return
    cadence = rng.uniform(4, 14)
    stop_after = rng.randint(2, 6) if rng.random() < LAPSE_SHARE else None
    at, bought = start + timedelta(days=cadence * rng.uniform(0.3, 1.0)), 0
    while at < latest and (stop_after is None or bought < stop_after):
        context = _page_context(t.shopper, None, "/", agent)
        _session(t, rng, start=at, ids=ids, context=context, app=False, can_order=True, buys=True)
        bought += 1
        at += timedelta(days=cadence * rng.uniform(0.67, 1.33))


def _app_sessions(t: Timeline, rng: random.Random, *, start: datetime, latest: datetime) -> None:
    """Browse the app anonymously, log in days later: the app's anonymous profile merges into the shopper."""
    shopper = t.shopper
    context = _app_context(shopper)
    first = start + timedelta(days=rng.uniform(1, 10))
    login = first + timedelta(days=rng.uniform(4, 12))
    if login > latest:
        return
    _session(
        t,
        rng,
        start=first,
        ids={"anonymousId": shopper.app_anonymous_id},
        context=context,
        app=True,
        can_order=False,
    )
    ids = {"userId": shopper.user_id, "anonymousId": shopper.app_anonymous_id}
    t.add(login, {"type": "identify", **ids, "traits": {"email": shopper.email}, "context": context})
    _session(t, rng, start=login, ids=ids, context=context, app=True, can_order=True)


def _amazon_orders(t: Timeline, rng: random.Random) -> None:
    shopper, market = t.shopper, t.shopper.market
    products = catalogue()
    for number in range(1, shopper.amazon_orders + 1):
        order_id = f"{rng.randint(111, 999)}-{shopper.index:07d}-{number:07d}"
        purchased = t.now - timedelta(seconds=rng.randint(3600, 110 * 86400))
        # Shoppers type their email differently on Amazon; ID-Mapping normalises it.
        email = shopper.email.upper() if number % 2 == 0 else shopper.email
        for product in rng.sample(products, rng.choice((1, 1, 2))):
            quantity = rng.choice((1, 1, 2))
            price = product.price(market.currency) * quantity
            t.amazon_rows.append(
                [
                    order_id,
                    "",
                    purchased.isoformat(timespec="seconds"),
                    purchased.isoformat(timespec="seconds"),
                    "Shipped",
                    "Amazon",
                    market.amazon_channel,
                    "Standard",
                    product.name,
                    product.sku,
                    f"B0{product.product_id[5:]:0>8}",
                    "Shipped",
                    str(quantity),
                    market.currency,
                    str(price),
                    str(
                        (price * Decimal(market.tax_rate)).quantize(
                            Decimal(1) if market.currency == "JPY" else CENT
                        )
                    ),
                    "0.00",
                    "",
                    shopper.city,
                    "",
                    "",
                    market.country,
                    email,
                    shopper.name,
                    shopper.phone,
                ]
            )
