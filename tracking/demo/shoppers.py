"""The demo store's shoppers: six markets, their time zones, phone formats and how each shopper arrived."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import phonenumbers

from tracking.demo.acquisition import arrival_refine

DAYS = 120  # the demo's history reaches this far back


@dataclass(frozen=True)
class Market:
    country: str
    locale: str
    timezones: tuple[str, ...]
    currency: str
    weight: int  # share of shoppers
    # Digits after the country code, before the random subscriber part, and how many random digits follow.
    phone_prefixes: tuple[str, ...]
    phone_random_digits: int
    cities: tuple[str, ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    amazon_channel: str
    tax_rate: str  # VAT/sales tax as a decimal string


MARKETS: tuple[Market, ...] = (
    Market(
        "US",
        "en-US",
        ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"),
        "USD",
        30,
        ("1212", "1312", "1415", "1512", "1206", "1305"),
        7,
        ("New York", "Chicago", "San Francisco", "Austin", "Seattle", "Miami"),
        (
            "James",
            "Olivia",
            "Liam",
            "Emma",
            "Noah",
            "Ava",
            "Ethan",
            "Mia",
            "Lucas",
            "Harper",
            "Mason",
            "Ella",
        ),
        ("Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Wilson", "Moore", "Taylor", "Clark"),
        "Amazon.com",
        "0.08",
    ),
    Market(
        "DE",
        "de-DE",
        ("Europe/Berlin",),
        "EUR",
        20,
        ("49151", "49160", "49170", "49176"),
        7,
        ("Berlin", "Hamburg", "München", "Köln", "Frankfurt am Main", "Leipzig"),
        (
            "Lena",
            "Jonas",
            "Mia",
            "Leon",
            "Hannah",
            "Finn",
            "Emilia",
            "Paul",
            "Lea",
            "Felix",
            "Marie",
            "Lukas",
        ),
        (
            "Müller",
            "Schmidt",
            "Schneider",
            "Fischer",
            "Weber",
            "Meyer",
            "Wagner",
            "Becker",
            "Hoffmann",
            "Koch",
        ),
        "Amazon.de",
        "0.19",
    ),
    Market(
        "GB",
        "en-GB",
        ("Europe/London",),
        "GBP",
        15,
        ("447700900", "447700901"),
        3,
        ("London", "Manchester", "Bristol", "Leeds", "Edinburgh", "Glasgow"),
        (
            "Oliver",
            "Amelia",
            "George",
            "Isla",
            "Harry",
            "Ava",
            "Jack",
            "Lily",
            "Charlie",
            "Freya",
            "Thomas",
            "Grace",
        ),
        ("Jones", "Williams", "Evans", "Thomas", "Roberts", "Walker", "Wright", "Hughes", "Green", "Hall"),
        "Amazon.co.uk",
        "0.20",
    ),
    Market(
        "JP",
        "ja-JP",
        ("Asia/Tokyo",),
        "JPY",
        15,
        ("8190", "8180", "8170"),
        8,
        ("Tokyo", "Osaka", "Yokohama", "Nagoya", "Sapporo", "Fukuoka"),
        ("Haruto", "Yui", "Sota", "Hina", "Yuto", "Aoi", "Riku", "Sakura", "Ren", "Mio", "Kaito", "Yuna"),
        (
            "Sato",
            "Suzuki",
            "Takahashi",
            "Tanaka",
            "Watanabe",
            "Ito",
            "Yamamoto",
            "Nakamura",
            "Kobayashi",
            "Kato",
        ),
        "Amazon.co.jp",
        "0.10",
    ),
    Market(
        "BR",
        "pt-BR",
        ("America/Sao_Paulo", "America/Manaus"),
        "BRL",
        12,
        ("55119", "55219", "55319"),
        8,
        ("São Paulo", "Rio de Janeiro", "Belo Horizonte", "Curitiba", "Porto Alegre", "Recife"),
        ("Miguel", "Helena", "Arthur", "Alice", "Gael", "Laura", "Heitor", "Valentina", "Theo", "Sophia"),
        (
            "Silva",
            "Santos",
            "Oliveira",
            "Souza",
            "Rodrigues",
            "Ferreira",
            "Alves",
            "Pereira",
            "Lima",
            "Gomes",
        ),
        "Amazon.com.br",
        "0.17",
    ),
    Market(
        "SA",
        "ar-SA",
        ("Asia/Riyadh",),
        "SAR",
        8,
        ("96650", "96655", "96654"),
        7,
        ("Riyadh", "Jeddah", "Dammam", "Mecca", "Medina", "Khobar"),
        ("Mohammed", "Fatimah", "Abdullah", "Noura", "Faisal", "Sara", "Khalid", "Reem", "Omar", "Lama"),
        (
            "Al-Saud",
            "Al-Qahtani",
            "Al-Harbi",
            "Al-Ghamdi",
            "Al-Zahrani",
            "Al-Otaibi",
            "Al-Shehri",
            "Al-Dosari",
        ),
        "Amazon.sa",
        "0.15",
    ),
)

# How shoppers arrived: UTM-tagged campaigns, affiliates, or nothing (organic / direct).
CAMPAIGNS: tuple[dict[str, str], ...] = (
    {"name": "spring-coffee-2026", "source": "instagram", "medium": "paid_social", "content": "reel-beans"},
    {"name": "brand-search", "source": "google", "medium": "cpc", "term": "specialty coffee beans"},
    {
        "name": "gear-retargeting",
        "source": "facebook",
        "medium": "paid_social",
        "content": "grinder-carousel",
    },
    {"name": "welcome-newsletter", "source": "newsletter", "medium": "email", "content": "hero-cta"},
    {"name": "tiktok-brew-guides", "source": "tiktok", "medium": "paid_social", "content": "v60-howto"},
)
AFFILIATES: tuple[dict[str, str], ...] = (
    {"name": "affiliate-program", "source": "brewblog.example", "medium": "affiliate", "content": "aff-1042"},
    {"name": "affiliate-program", "source": "teatimes.example", "medium": "affiliate", "content": "aff-2210"},
    {"name": "affiliate-program", "source": "coupons.example", "medium": "affiliate", "content": "aff-3307"},
)
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")


@dataclass
class Consent:
    granted_at: datetime
    withdrawn_at: datetime | None = None


@dataclass
class Shopper:
    index: int
    market: Market
    timezone: str
    city: str
    first_name: str
    last_name: str
    email: str
    phone: str  # in the market's national format, as a shop's form would collect it
    user_id: str
    web_anonymous_id: str
    first_visit: datetime
    campaign: dict[str, str] | None
    signs_up: bool
    app_anonymous_id: str = ""  # also uses the iOS app: a second device that must merge in
    amazon_orders: int = 0
    amazon_only: bool = False  # buys on Amazon only: no web history at all
    consent: dict[str, Consent] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def address(self) -> dict[str, Any]:
        return {"city": self.city, "country": self.market.country}


def _phone(rng: random.Random, market: Market) -> str:
    digits = rng.choice(market.phone_prefixes) + "".join(
        str(rng.randint(0, 9)) for _ in range(market.phone_random_digits)
    )
    number = phonenumbers.parse("+" + digits)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def _hex(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(length))


def shoppers_generate(*, rng: random.Random, count: int, now: datetime) -> list[Shopper]:
    weights = [m.weight for m in MARKETS]
    shoppers = []
    for index in range(count):
        market = rng.choices(MARKETS, weights)[0]
        first, last = rng.choice(market.first_names), rng.choice(market.last_names)
        local = (
            f"{first}.{last}".lower()
            .replace(" ", "")
            .replace("ü", "ue")
            .replace("ö", "oe")
            .replace("ä", "ae")
        )
        arrival = rng.random()
        campaign = (
            rng.choice(CAMPAIGNS) if arrival < 0.45 else rng.choice(AFFILIATES) if arrival < 0.6 else None
        )
        if campaign is not None:
            # The concrete ad campaign / creative / click id or partner link (its own random stream).
            family = CAMPAIGNS.index(campaign) if campaign in CAMPAIGNS else None
            partner = AFFILIATES.index(campaign) if campaign in AFFILIATES else None
            campaign = arrival_refine(family=family, partner=partner, index=index) or campaign
        shopper = Shopper(
            index=index,
            market=market,
            timezone=rng.choice(market.timezones),
            city=rng.choice(market.cities),
            first_name=first,
            last_name=last,
            email=f"{local}.{index}@{rng.choice(EMAIL_DOMAINS)}",
            phone=_phone(rng, market),
            user_id=f"cust-{index:05d}",
            web_anonymous_id=f"{_hex(rng, 8)}-{_hex(rng, 4)}-4{_hex(rng, 3)}-a{_hex(rng, 3)}-{_hex(rng, 12)}",
            first_visit=now - timedelta(days=DAYS) + timedelta(seconds=rng.randint(0, (DAYS - 3) * 86400)),
            campaign=campaign,
            signs_up=rng.random() < 0.72,
        )
        if shopper.signs_up:
            if rng.random() < 0.2:
                shopper.app_anonymous_id = _hex(rng, 8).upper() + "-" + _hex(rng, 4).upper() + "-IOS"
            shopper.amazon_orders = rng.choice((1, 1, 2, 3)) if rng.random() < 0.12 else 0
            signup = shopper.first_visit + timedelta(minutes=rng.randint(3, 25))
            shopper.consent["email"] = Consent(granted_at=signup)
            if rng.random() < 0.6:
                shopper.consent["sms"] = Consent(granted_at=signup)
            for channel, share in (("email", 0.08), ("sms", 0.15)):
                consent = shopper.consent.get(channel)
                if consent and rng.random() < share:
                    consent.withdrawn_at = signup + (now - signup) * rng.uniform(0.2, 0.95)
        shoppers.append(shopper)
    # A few marketplace-only buyers: they exist only in the Amazon report and get their own profiles.
    for offset in range(max(1, count // 30)):
        market = rng.choices(MARKETS, weights)[0]
        first, last = rng.choice(market.first_names), rng.choice(market.last_names)
        index = count + offset
        shoppers.append(
            Shopper(
                index=index,
                market=market,
                timezone=rng.choice(market.timezones),
                city=rng.choice(market.cities),
                first_name=first,
                last_name=last,
                email=f"amazon-buyer.{index}@{rng.choice(EMAIL_DOMAINS)}",
                phone=_phone(rng, market),
                user_id="",
                web_anonymous_id="",
                first_visit=now - timedelta(days=DAYS),
                campaign=None,
                signs_up=False,
                amazon_orders=rng.choice((1, 2)),
                amazon_only=True,
            )
        )
    return shoppers
