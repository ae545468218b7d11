"""What the acquisition, LTV and CLV pages need from the demo store: 8 ad campaigns with 20 creatives on
Google, Meta and TikTok, an affiliate and two KOLs, the landing pages' UTM tags and click ids, 90 days
of daily ad spend that matches the clicks those ads brought, then the order credits, the rollup and
the CLV fit — so every page opens with figures.

The shoppers' main random stream is untouched (it still picks one of the five arrival families and
three partner links); the concrete campaign and creative come from a stream of their own, seeded by
the shopper, so every other figure of the demo stays what it was.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from tracking.demo.shoppers import Shopper

SPEND_DAYS = 90
DEMO_HOLDOUT_DAYS = 21
# platform, utm_source, utm_medium, click id, campaign, creatives (utm_content = the ad's name)
CAMPAIGNS: tuple[tuple[str, str, str, str, str, tuple[str, ...]], ...] = (
    ("google", "google", "cpc", "gclid", "brand-search", ("rsa-brand-a", "rsa-brand-b")),
    ("google", "google", "cpc", "gclid", "generic-beans", ("rsa-beans-a", "rsa-beans-b", "rsa-beans-c")),
    ("google", "google", "cpc", "gclid", "pmax-gear", ("pmax-grinder", "pmax-kettle")),
    (
        "meta",
        "instagram",
        "paid_social",
        "fbclid",
        "spring-coffee-2026",
        ("reel-beans", "reel-pourover", "story-sale"),
    ),  # fmt: skip
    ("meta", "facebook", "paid_social", "fbclid", "gear-retargeting", ("grinder-carousel", "kettle-video")),
    ("meta", "instagram", "paid_social", "fbclid", "matcha-launch", ("matcha-reel", "matcha-static")),
    (
        "tiktok",
        "tiktok",
        "paid_social",
        "ttclid",
        "tiktok-brew-guides",
        ("v60-howto", "aeropress-duet", "coldbrew-hack"),
    ),  # fmt: skip
    (
        "tiktok",
        "tiktok",
        "paid_social",
        "ttclid",
        "tiktok-creators",
        ("spark-mia", "spark-leo", "ugc-unboxing"),
    ),
)
# The shoppers' arrival families (tracking/demo/shoppers.py CAMPAIGNS, by position) → our campaigns.
FAMILY_CAMPAIGNS = {0: (3, 5), 1: (0, 1, 2), 2: (4,), 3: (), 4: (6, 7)}
PLATFORM_CURRENCY = {"google": "USD", "meta": "EUR", "tiktok": "GBP"}
CPC = {"google": Decimal("0.95"), "meta": Decimal("0.62"), "tiktok": Decimal("0.41")}
CTR = {"google": 0.045, "meta": 0.011, "tiktok": 0.008}
# The affiliate (a ref link and a coupon) and two KOLs (their own utm_campaign), by partner-link position.
PARTNERS = (
    {
        "name": "Brew Blog",
        "kind": "affiliate",
        "ref_code": "brewblog",
        "coupon_code": "BREWBLOG5",
        "commission_percent": Decimal(8),
        "landing": {
            "source": "brewblog.example",
            "medium": "affiliate",
            "name": "affiliate-program",
            "content": "aff-1042",
        },  # fmt: skip
        "ref": "brewblog",
    },
    {
        "name": "Mia Cooks",
        "kind": "kol",
        "utm_value": "kol-mia-cooks",
        "commission_percent": Decimal(12),
        "fixed_fee": Decimal(3),
        "fee_currency": "EUR",
        "landing": {
            "source": "instagram",
            "medium": "kol",
            "name": "kol-mia-cooks",
            "content": "mia-latte-art",
        },  # fmt: skip
    },
    {
        "name": "Leo Brews",
        "kind": "kol",
        "utm_value": "kol-leo-brews",
        "commission_percent": Decimal(10),
        "fixed_fee": Decimal(250),
        "fee_currency": "JPY",
        "landing": {
            "source": "youtube",
            "medium": "kol",
            "name": "kol-leo-brews",
            "content": "leo-grinder-review",
        },  # fmt: skip
    },
)


def arrival_refine(*, family: int | None, partner: int | None, index: int) -> dict[str, str] | None:
    """The concrete campaign, creative and click id of a shopper who arrived through an ad family or a
    partner link (None: keep the family's own tags, e.g. the newsletter)."""
    rng = random.Random(f"acquisition-{index}")
    if partner is not None:
        spec = PARTNERS[partner]
        landing = dict(spec["landing"])
        if spec.get("ref"):
            landing["ref"] = spec["ref"]
        return landing
    choices = FAMILY_CAMPAIGNS.get(family or 0, ())
    if not choices:
        return None
    _, source, medium, click_id, name, creatives = CAMPAIGNS[rng.choice(choices)]
    return {
        "source": source,
        "medium": medium,
        "name": name,
        "content": rng.choice(creatives),
        click_id: f"{click_id[:2].upper()}{rng.getrandbits(48):012x}",
    }


def spend_rows(*, shoppers: list[Shopper], today: date) -> dict[str, list[dict[str, Any]]]:
    """Per platform, one row per ad and day for the last SPEND_DAYS days: clicks at least the visits
    the ad brought that day, impressions by the platform's CTR, cost by its CPC (± a day's noise)."""
    visits: Counter = Counter()
    for shopper in shoppers:
        campaign = shopper.campaign or {}
        if campaign.get("name"):
            visits[(shopper.first_visit.date(), campaign["name"], campaign.get("content", ""))] += 1
    rows: dict[str, list[dict[str, Any]]] = {}
    for number in range(SPEND_DAYS):
        day = today - timedelta(days=SPEND_DAYS - number)
        for platform, _, _, _, name, creatives in CAMPAIGNS:
            for creative in creatives:
                rng = random.Random(f"spend-{day}-{creative}")
                clicks = visits[(day, name, creative)] * rng.randint(3, 6) + rng.randint(2, 14)
                impressions = int(clicks / (CTR[platform] * rng.uniform(0.7, 1.3)))
                cost = (CPC[platform] * clicks * Decimal(str(round(rng.uniform(0.8, 1.25), 2)))).quantize(
                    Decimal("0.01")
                )
                rows.setdefault(platform, []).append(
                    {
                        "day": day.isoformat(),
                        "campaign": name,
                        "ad_group": f"{name}-{'search' if platform == 'google' else 'broad'}",
                        "ad": creative,
                        "impressions": impressions,
                        "clicks": clicks,
                        "cost": str(cost),
                        "currency": PLATFORM_CURRENCY[platform],
                    }
                )
    return rows


def fx_rates_carry_to(*, today: date, stdout: TextIO) -> None:
    """The bundled ECB history ends some weeks before a demo's "today": the demo carries the last
    publication forward to today (published_on says which one), so its recent days have figures.
    Only the demo does this; a real workspace loads a newer file (manage.py fx_rates_load) and a day
    without a rate stays missing."""
    from django.db import connection

    from tracking.analytics.money import _cache_clear, fx_rates_ensure

    fx_rates_ensure()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO analytics_fxrate (currency, day, per_eur, published_on)
            SELECT l.currency, d::date, l.per_eur, l.published_on
            FROM (SELECT DISTINCT ON (currency) currency, day, per_eur, published_on FROM analytics_fxrate
                  ORDER BY currency, day DESC) l
            CROSS JOIN generate_series(l.day + 1, %s::date, interval '1 day') d
            ON CONFLICT (currency, day) DO NOTHING
            """,
            [today],
        )
        added = cursor.rowcount
        cursor.execute("SELECT max(published_on) FROM analytics_fxrate")
        (last,) = cursor.fetchone()
    _cache_clear()
    if added:
        stdout.write(
            f"Demo: ECB rates of {last} carried forward to {today} (the bundled history ends there).\n"
        )


def acquisition_demo_load(*, shoppers: list[Shopper], now: datetime, stdout: TextIO) -> dict[str, Any]:
    """Partners, ad spend, then credits, the rollup and the CLV fit over what the demo's events made."""
    from tracking.analytics.acquisition.attribution import attribution_refresh
    from tracking.analytics.acquisition.rollup import acquisition_rollup_rebuild
    from tracking.analytics.acquisition.spend import spend_import, spend_rows_from_json
    from tracking.analytics.acquisition.touches import touches_reclassify
    from tracking.analytics.clv.service import clv_fit
    from tracking.analytics.models import Partner

    fx_rates_carry_to(today=now.date(), stdout=stdout)
    for spec in PARTNERS:
        fields = {k: v for k, v in spec.items() if k not in ("name", "landing", "ref")}
        Partner.objects.update_or_create(name=spec["name"], defaults=fields)
    # Touches were read as the events arrived, before the partners existed: classify them again.
    touches_reclassify()
    rows = 0
    for platform, items in spend_rows(shoppers=shoppers, today=now.date()).items():
        parsed = spend_rows_from_json(items=items, platform=platform)
        rows += spend_import(rows=parsed, platform=platform, file_name="demo", user="demo").rows
    credits = attribution_refresh()
    acquisition_rollup_rebuild(now=now)
    # The demo's history is 120 days: a 21-day holdout leaves the backtest's fit the 90+ days it needs.
    fit = clv_fit(as_of=now.date(), holdout_days=DEMO_HOLDOUT_DAYS)
    return {"spend_rows": rows, "credits": credits, "clv_problems": fit.problems}
