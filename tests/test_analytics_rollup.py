"""The acquisition page's rollup plus its live tail equals the raw recompute — every level, credit
model, UTC, workspace and profile days, a rollup cut in the middle of the data, new data after the
rebuild — and what the rollup cannot serve (another ROAS window, another workspace zone than it was
built in) is computed raw."""

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from django.test import TestCase

from tests.test_analytics_attribution import order, page
from tests.tracking_helpers import ingest
from tracking.analytics.acquisition.attribution import attribution_refresh
from tracking.analytics.acquisition.figures import FiguresError, acquisition_figures
from tracking.analytics.acquisition.rollup import acquisition_rollup_rebuild
from tracking.analytics.acquisition.spend import spend_import, spend_rows_from_json
from tracking.analytics.acquisition.touches import touches_extract
from tracking.analytics.models import FxRate, Partner
from tracking.analytics.money import fx_rates_load

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, tzinfo=UTC)
DAYS = 10
# No BRL rate at all: those orders are left out and counted, in both paths.
HIST = "Date,USD,JPY,GBP,\n" + "".join(
    f"2026-03-{d:02d},{1.1 + d / 100:.4f},{150 + d}.00,0.8{d % 10},\n" for d in range(12, 0, -1)
)
ORIGINS = [
    "?utm_source=google&utm_medium=cpc&utm_campaign=Brand&utm_content=ad-a&gclid=x",
    "?utm_source=google&utm_medium=cpc&utm_campaign=Generic&utm_content=ad-b",
    "?utm_source=facebook&utm_medium=paid_social&utm_campaign=Spring&utm_content=reel-1",
    "?utm_source=tiktok&utm_medium=paid_social&utm_campaign=Spring&utm_content=duet-2",
    "?utm_source=voyage&utm_medium=email&utm_campaign=winback&utm_content=hero",
    "?ref=brewblog",
    "",
]


def _shop(source, tmp_path, settings, *, tz: str = "Europe/Berlin"):
    settings.WORKSPACE_CURRENCY = "EUR"
    settings.TIME_ZONE = tz
    FxRate.objects.all().delete()
    rates = tmp_path / "eurofxref-hist.csv"
    rates.write_text(HIST)
    fx_rates_load(path=rates)
    Partner.objects.create(name="Brew Blog", kind="affiliate", ref_code="brewblog", commission_percent=8)
    Partner.objects.create(
        name="Mia Cooks",
        kind="kol",
        coupon_code="MIA10",
        commission_percent=5,
        fixed_fee=2,
        fee_currency="GBP",
    )
    spend = [
        {
            "day": (START + timedelta(days=d)).date().isoformat(),
            "campaign": campaign,
            "ad": ad,
            "impressions": 1000 + d,
            "clicks": 30 + d,
            "cost": f"{20 + d}.5",
            "currency": currency,
        }
        for d in range(DAYS)
        for campaign, ad, currency in (("Brand", "ad-a", "USD"), ("Generic", "ad-b", "JPY"))
    ]
    spend_import(rows=spend_rows_from_json(items=spend, platform="google"), platform="google")
    rng = random.Random(13)
    messages = []
    for n in range(40):
        user = f"r{n}"
        at = START + timedelta(hours=rng.randint(0, 24 * DAYS - 30))
        for _ in range(rng.randint(1, 4)):
            messages.append(page(user, at, query=rng.choice(ORIGINS)))
            at += timedelta(hours=rng.randint(1, 40))
            if rng.random() < 0.6:
                extra = {"coupon": "mia10"} if rng.random() < 0.15 else {}
                currency = rng.choice(("EUR", "USD", "JPY", "GBP", "BRL"))
                amount = rng.randint(10, 90) * (150 if currency == "JPY" else 1)
                messages.append(order(user, at + timedelta(minutes=n), amount, currency, **extra))
    ingest(source, *messages)
    touches_extract(since=START - timedelta(days=1), until=START + timedelta(days=DAYS + 5))
    attribution_refresh()


def _plain(figures):
    return [
        (r.channel, r.campaign, r.creative, r.day, r.as_dict())
        for r in sorted(figures.rows, key=lambda r: (r.day or date.min, r.channel, r.campaign, r.creative))
    ] + [("total", figures.total.as_dict(), figures.missing_messages)]


def _assert_equal(**options):
    raw = acquisition_figures(source="raw", **options)
    served = acquisition_figures(source="auto", **options)
    assert served.source == "rollup", options
    assert _plain(served) == _plain(raw), options
    return raw


RANGE = {"start": date(2026, 3, 3), "end": date(2026, 3, 9)}


@pytest.mark.parametrize("cut_days", [DAYS + 6, 4])  # after all the data / in its middle
def test_rollup_plus_tail_equals_the_raw_recompute(source, tmp_path, settings, cut_days):
    _shop(source, tmp_path, settings)
    acquisition_rollup_rebuild(now=START + timedelta(days=cut_days, minutes=25))
    for level in ("channel", "campaign", "creative", "day"):
        for model in ("first", "last", "linear", "position"):
            for zone in ("utc", "workspace"):
                raw = _assert_equal(level=level, model=model, zone=zone, **RANGE)
        _assert_equal(level=level, model="linear", zone="profile", **RANGE)
    assert raw.total.revenue > 0 and raw.total.cost > 0 and raw.total.missing_fx > 0
    assert raw.missing_messages[0].startswith("no BRL rate for 2026-03-")
    assert any(r.channel == "Affiliate/KOL" for r in acquisition_figures(**RANGE).rows)
    _assert_equal(level="creative", channel="Paid Search", campaign="Brand", **RANGE)


def test_data_after_the_rebuild_is_in_the_live_tail(source, tmp_path, settings):
    _shop(source, tmp_path, settings)
    acquisition_rollup_rebuild(now=START + timedelta(days=5))
    late = START + timedelta(days=6, hours=3)
    ingest(source, page("late", late, query=ORIGINS[2]), order("late", late + timedelta(hours=1), 40, "EUR"))
    touches_extract(since=late - timedelta(days=1), until=late + timedelta(days=1))
    attribution_refresh()
    # Spend imported after the rebuild (for a past day) is in the rollup at once.
    more = [
        {"day": "2026-03-04", "campaign": "Launch", "ad": "v-1", "cost": "33", "currency": "GBP", "clicks": 9}
    ]
    with TestCase.captureOnCommitCallbacks(execute=True):
        spend_import(rows=spend_rows_from_json(items=more, platform="tiktok"), platform="tiktok")
    assert any(r.creative == "v-1" for r in _assert_equal(level="creative", **RANGE).rows)
    before = acquisition_figures(source="raw", **RANGE).total
    raw = _assert_equal(level="channel", model="last", zone="utc", **RANGE)
    assert raw.total.sessions >= before.sessions and raw.total.revenue >= before.revenue


def test_what_the_rollup_cannot_serve_is_computed_raw(source, tmp_path, settings):
    _shop(source, tmp_path, settings, tz="Asia/Kolkata")
    acquisition_rollup_rebuild(now=START + timedelta(days=DAYS + 6))
    # A half-hour workspace zone and each profile's zone are folded by their own local days.
    _assert_equal(zone="workspace", level="day", **RANGE)
    _assert_equal(zone="profile", level="creative", **RANGE)
    assert acquisition_figures(roas_window_days=7, **RANGE).source == "raw"
    settings.TIME_ZONE = "America/New_York"  # not the zone the rollup was built in
    assert acquisition_figures(zone="workspace", **RANGE).source == "raw"
    assert acquisition_figures(zone="profile", **RANGE).source == "raw"
    assert acquisition_figures(zone="utc", **RANGE).source == "rollup"
    with pytest.raises(FiguresError, match="source: the rollup cannot serve"):
        acquisition_figures(zone="profile", source="rollup", **RANGE)
