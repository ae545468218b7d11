"""What the behaviour pages need from the demo store's sessions: search results and clicks, promotion
slots, two new products (one rising, one stalling), a few refunds, and baskets with a story for the
affinity page (a few brewers that are usually bought with their accessory).

Each helper draws from its own random stream (seeded by the shopper and the message count), so the
sessions' main stream — and with it every other figure of the demo — stays what it was.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tracking.demo.catalogue import Product, catalogue

if TYPE_CHECKING:
    from tracking.demo.sessions import Timeline

# Searches nobody can satisfy (the shop sells no oat milk or Chemex), and messy spellings that the
# keyword page normalises ("  Decaf" → "decaf") or reads through a synonym ("coldbrew" → "cold brew").
ZERO_RESULT = ("oat milk", "chemex")
VARIANTS = {"decaf": ("Decaf", " decaf ", "DECAF"), "cold brew": ("coldbrew", "Cold Brew")}
SYNONYMS = {"coldbrew": "cold brew", "tee": "tea sampler"}
# Where the right product sits in the results, per keyword (tea sampler: deep down, so the page flags it).
DEEP_RESULTS = {"tea sampler": (4, 8), "gift": (3, 6)}
PROMOTIONS = (
    # (promotion_id, creative, position, name, click probability)
    ("spring_sale", "hero_spring_v1", "home_hero", "Spring Sale 15%", 0.05),
    ("new_matcha", "hero_matcha_v2", "home_hero", "New: Matcha Ceremonial", 0.12),
    ("free_shipping", "banner_truck", "home_banner_2", "Free shipping over 50", 0.03),
)
# Bought together: a shopper who puts the first in the cart often adds the second (what the affinity
# page should find: high confidence, a lift far above 1). The first ones also get viewed more often,
# so each pair is seen in enough orders to stand out from chance pairs.
COMPANIONS = {
    "Pour-Over Dripper": ("Paper Filters (100)", 0.65),
    "Espresso Machine Compact": ("Knock Box", 0.55),
    "Matcha Ceremonial 30g": ("Matcha Whisk Set", 0.5),
    "French Press 1L": ("Cold Brew Coarse Grind 500g", 0.35),
}
FEATURED_SHARE = 0.25  # of sessions whose first product viewed is one of the brewers above
NEW_PRODUCTS = {
    # product, days since launch; the first rises (more views every week), the second stalls.
    "rising": (Product("prod_701", "COF-701", "Oat Milk Barista Edition 1L", "Coffee", 6), 18),
    "stalling": (Product("prod_702", "TEA-702", "Yuzu Sencha 100g", "Tea", 16), 26),
}


def _rng(t: Timeline, salt: str) -> random.Random:
    return random.Random(f"behaviour-{salt}-{t.shopper.index}-{len(t.messages)}")


def _matches(query: str) -> list[Product]:
    words = query.lower().split()
    return [p for p in catalogue() if any(w in p.name.lower() or w in p.category.lower() for w in words)]


def _product(name: str) -> Product:
    return next(p for p in catalogue() if p.name == name)


def viewed_products(t: Timeline, *, viewed: list[Product]) -> list[Product]:
    """The products a session views: a quarter of the sessions open one of the featured brewers first
    (only which product, never how many or when)."""
    rng = _rng(t, "featured")
    if rng.random() >= FEATURED_SHARE:
        return viewed
    lead = _product(rng.choice(sorted(COMPANIONS)))
    return [lead, *[p for p in viewed if p != lead]][: len(viewed)]


def cart_companions(t: Timeline, *, cart: list[Product]) -> list[Product]:
    """The accessories a shopper adds to a cart holding their brewer (none already in it)."""
    rng = _rng(t, "companions")
    out = []
    for product in cart:
        companion, probability = COMPANIONS.get(product.name, (None, 0.0))
        if companion and rng.random() < probability:
            extra = _product(companion)
            if extra not in cart and extra not in out:
                out.append(extra)
    return out


def search_properties(t: Timeline, *, query: str) -> dict[str, Any]:
    """A "Products Searched" event's properties: maybe a different (zero-result or messy) query, and
    how many results the shop showed."""
    rng = _rng(t, "search")
    roll = rng.random()
    if roll < 0.22:
        query = ZERO_RESULT[0]
    elif roll < 0.27:
        query = ZERO_RESULT[1]
    elif query in VARIANTS and rng.random() < 0.5:
        query = rng.choice(VARIANTS[query])
    if query in ZERO_RESULT:
        return {"query": query, "results_count": 0}
    results = _matches(SYNONYMS.get(" ".join(query.lower().split()), query))
    return {"query": query, "results_count": len(results)}


def search_click(
    t: Timeline,
    *,
    at: datetime,
    ids: dict[str, str],
    context: dict[str, Any],
    search: dict[str, Any],
    currency: str,
) -> None:
    """Maybe a "Product Clicked" on the results a few seconds after the search."""
    if not search["results_count"]:
        return
    rng = _rng(t, "click")
    keyword = " ".join(search["query"].lower().split())
    if rng.random() > 0.6:
        return
    lo, hi = DEEP_RESULTS.get(SYNONYMS.get(keyword, keyword), (1, 3))
    product = rng.choice(_matches(SYNONYMS.get(keyword, keyword)))
    position = min(rng.randint(lo, hi), search["results_count"] + lo)
    t.add(
        at + timedelta(seconds=rng.randint(3, 12)),
        {
            "type": "track",
            "event": "Product Clicked",
            **ids,
            "context": context,
            "properties": {
                **product.as_properties(currency),
                "position": position,
                "list_id": "search",
                "query": search["query"],
            },
        },
    )


def home_promotions(t: Timeline, *, at: datetime, ids: dict[str, str], context: dict[str, Any]) -> None:
    """The home page's hero (one of two creatives) and second banner: viewed, sometimes clicked."""
    rng = _rng(t, "promo")
    hero = PROMOTIONS[0] if rng.random() < 0.5 else PROMOTIONS[1]
    for offset, (promotion_id, creative, position, name, p_click) in enumerate(
        (hero, PROMOTIONS[2]), start=1
    ):
        props = {"promotion_id": promotion_id, "creative": creative, "position": position, "name": name}
        t.add(
            at + timedelta(seconds=offset),
            {"type": "track", "event": "Promotion Viewed", **ids, "context": context, "properties": props},
        )
        if rng.random() < p_click:
            t.add(
                at + timedelta(seconds=offset + rng.randint(2, 8)),
                {
                    "type": "track",
                    "event": "Promotion Clicked",
                    **ids,
                    "context": context,
                    "properties": props,
                },
            )


def new_products(
    t: Timeline, *, at: datetime, ids: dict[str, str], context: dict[str, Any], currency: str
) -> None:
    """Views (and some adds and orders) of the two new products, only since their launch."""
    rng = _rng(t, "new")
    for trend, (product, launched_days) in NEW_PRODUCTS.items():
        age = (t.now - at).total_seconds() / 86400
        if age > launched_days:
            continue
        since_launch = launched_days - age
        if trend == "rising":
            # Quadratic growth: the last week has about three times the viewers of the week before,
            # far from the 1.5x line the page calls rising, whatever day the demo is loaded on.
            p_view = 0.05 + 0.6 * (since_launch / launched_days) ** 2
        else:
            p_view = 0.45 if since_launch < launched_days - 12 else 0.04
        if rng.random() > p_view:
            continue
        props = product.as_properties(currency)
        t.add(
            at + timedelta(seconds=rng.randint(1, 10)),
            {"type": "track", "event": "Product Viewed", **ids, "context": context, "properties": props},
        )
        if rng.random() > (0.35 if trend == "rising" else 0.15):
            continue
        t.add(
            at + timedelta(seconds=rng.randint(11, 20)),
            {
                "type": "track",
                "event": "Product Added",
                **ids,
                "context": context,
                "properties": {**props, "quantity": 1},
            },
        )
        if rng.random() > 0.5:
            continue
        order_id = f"N{t.shopper.index:05d}-{len(t.messages)}"
        ordered_at = at + timedelta(seconds=rng.randint(21, 40))
        t.add(
            ordered_at,
            {
                "type": "track",
                "event": "Order Completed",
                **ids,
                "context": context,
                "properties": {
                    "order_id": order_id,
                    "revenue": props["price"],
                    "currency": currency,
                    "products": [{**props, "quantity": 1}],
                },
            },
        )
        refund_odds = 0.3 if trend == "stalling" else 0.03
        refund(t, at=ordered_at, ids=ids, context=context, order_id=order_id, odds=refund_odds)


def refund(
    t: Timeline,
    *,
    at: datetime,
    ids: dict[str, str],
    context: dict[str, Any],
    order_id: str,
    odds: float = 0.04,
) -> None:
    """Sometimes an "Order Refunded" a few days later (when that is still in the past)."""
    rng = _rng(t, "refund")
    when = at + timedelta(days=rng.uniform(2, 6))
    if rng.random() < odds and when < t.now - timedelta(hours=1):
        t.add(
            when,
            {
                "type": "track",
                "event": "Order Refunded",
                **ids,
                "context": context,
                "properties": {"order_id": order_id},
            },
        )
