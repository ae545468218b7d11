"""The demo store's catalogue: a coffee-and-kitchen shop selling in six currencies."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from functools import lru_cache

# Ten products per category, with a US-dollar list price; other markets get converted, rounded prices.
CATEGORIES: dict[str, list[tuple[str, int]]] = {
    "Coffee": [
        ("Ethiopia Yirgacheffe Beans 250g", 16),
        ("Colombia Huila Beans 250g", 15),
        ("Brazil Cerrado Beans 1kg", 38),
        ("Espresso House Blend 1kg", 34),
        ("Decaf Swiss Water 250g", 14),
        ("Kenya AA Beans 250g", 19),
        ("Guatemala Antigua Beans 250g", 16),
        ("Cold Brew Coarse Grind 500g", 18),
        ("Tasting Flight (4 x 100g)", 29),
        ("Coffee Subscription Box", 45),
    ],
    "Tea": [
        ("Sencha Green Tea 100g", 14),
        ("Gyokuro Premium 50g", 32),
        ("Earl Grey Loose Leaf 100g", 11),
        ("Matcha Ceremonial 30g", 28),
        ("Rooibos Vanilla 100g", 10),
        ("Jasmine Pearls 50g", 18),
        ("Masala Chai Blend 100g", 12),
        ("Oolong Tie Guan Yin 100g", 21),
        ("Herbal Sampler (6 tins)", 26),
        ("Tea Advent Calendar", 39),
    ],
    "Brewing Gear": [
        ("Pour-Over Dripper", 24),
        ("Gooseneck Kettle", 69),
        ("Burr Grinder", 149),
        ("French Press 1L", 35),
        ("AeroPress Go", 39),
        ("Moka Pot 6-cup", 42),
        ("Digital Brew Scale", 49),
        ("Paper Filters (100)", 7),
        ("Cold Brew Bottle", 29),
        ("Espresso Machine Compact", 399),
    ],
    "Kitchen": [
        ("Ceramic Mug Set (4)", 36),
        ("Double-Wall Glasses (2)", 22),
        ("Milk Frother", 27),
        ("Stainless Travel Tumbler", 31),
        ("Bamboo Serving Tray", 25),
        ("Canister Airtight 1L", 19),
        ("Cast Iron Teapot", 58),
        ("Matcha Whisk Set", 24),
        ("Glass Carafe 800ml", 21),
        ("Knock Box", 33),
    ],
    "Home": [
        ("Linen Apron", 34),
        ("Coffee Table Book: Origins", 45),
        ("Scented Candle Roast", 22),
        ("Cork Coasters (6)", 12),
        ("Barista Towel Set", 15),
        ("Wall Print Coffee Map", 39),
        ("Woven Basket", 28),
        ("Recipe Journal", 17),
        ("Gift Card", 50),
        ("Cleaning Tablets (30)", 13),
    ],
    "Apparel": [
        ("Roastery T-Shirt", 25),
        ("Logo Hoodie", 55),
        ("Canvas Tote Bag", 18),
        ("Beanie", 22),
        ("Enamel Pin Set", 9),
        ("Socks Bean Pattern", 12),
        ("Cap Embroidered", 24),
        ("Barista Denim Shirt", 65),
        ("Rain Jacket", 89),
        ("Sticker Pack", 5),
    ],
}

# Illustrative rates from US dollars, fixed so the demo is the same on every run.
USD_RATES: dict[str, Decimal] = {
    "USD": Decimal("1"),
    "EUR": Decimal("0.92"),
    "GBP": Decimal("0.79"),
    "JPY": Decimal("150"),
    "BRL": Decimal("5.2"),
    "SAR": Decimal("3.75"),
}


@dataclass(frozen=True)
class Product:
    product_id: str
    sku: str
    name: str
    category: str
    price_usd: Decimal

    def price(self, currency: str) -> Decimal:
        """The shelf price in a market's currency: yen in tens, others as x.99."""
        amount = self.price_usd * USD_RATES[currency]
        if currency == "JPY":
            return (amount / 10).quantize(Decimal(1), rounding=ROUND_HALF_UP) * 10
        return amount.quantize(Decimal(1), rounding=ROUND_CEILING) - Decimal("0.01")

    def as_properties(self, currency: str) -> dict[str, object]:
        """The product as Segment's e-commerce spec describes it."""
        return {
            "product_id": self.product_id,
            "sku": self.sku,
            "name": self.name,
            "category": self.category,
            "price": float(self.price(currency)),
            "currency": currency,
        }


@lru_cache(maxsize=1)
def catalogue() -> tuple[Product, ...]:
    products = []
    for c_index, (category, items) in enumerate(CATEGORIES.items(), start=1):
        for i_index, (name, usd) in enumerate(items, start=1):
            number = c_index * 100 + i_index
            products.append(
                Product(
                    product_id=f"prod_{number}",
                    sku=f"{category[:3].upper()}-{number}",
                    name=name,
                    category=category,
                    price_usd=Decimal(usd),
                )
            )
    return tuple(products)
