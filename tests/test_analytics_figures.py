"""Acquisition figures against a hand-computed small shop: FX on the day, ROAS windows, zones."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tests.test_analytics_attribution import order, page
from tests.tracking_helpers import ingest
from tracking.analytics.acquisition.attribution import attribution_refresh
from tracking.analytics.acquisition.figures import FiguresError, acquisition_figures
from tracking.analytics.acquisition.spend import spend_import, spend_rows_from_json
from tracking.analytics.acquisition.touches import touches_extract
from tracking.analytics.models import FxRate
from tracking.analytics.money import fx_rates_load
from tracking.models import Profile

pytestmark = pytest.mark.django_db

# Thursday 2026-03-05: 1 EUR = 1.10 USD = 0.85 GBP, no JPY; Friday: 1.20 USD, 0.80 GBP, 160 JPY.
HIST = "Date,USD,JPY,GBP,\n2026-03-06,1.2000,160.00,0.8000,\n2026-03-05,1.1000,N/A,0.8500,\n"
THU = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
FRI = datetime(2026, 3, 6, 10, 0, tzinfo=UTC)
GOOGLE = "?utm_source=google&utm_medium=cpc&utm_campaign=Brand&utm_content=ad-a"
META = "?utm_source=facebook&utm_medium=paid_social&utm_campaign=Spring&utm_content=reel-1"


@pytest.fixture
def shop(source, tmp_path, settings):
    settings.WORKSPACE_CURRENCY = "EUR"
    FxRate.objects.all().delete()
    rates = tmp_path / "eurofxref-hist.csv"
    rates.write_text(HIST)
    fx_rates_load(path=rates)
    spend = [
        {
            "day": "2026-03-05",
            "campaign": "Brand",
            "ad": "ad-a",
            "impressions": 1000,
            "clicks": 50,
            "cost": "55",
            "currency": "USD",
        },
        {
            "day": "2026-03-06",
            "campaign": "Brand",
            "ad": "ad-a",
            "impressions": 500,
            "clicks": 10,
            "cost": "24",
            "currency": "USD",
        },
    ]
    spend_import(rows=spend_rows_from_json(items=spend, platform="google"), platform="google")
    meta = [
        {
            "day": "2026-03-05",
            "campaign": "Spring",
            "ad": "reel-1",
            "impressions": 400,
            "clicks": 20,
            "cost": "17",
            "currency": "GBP",
        }
    ]
    spend_import(rows=spend_rows_from_json(items=meta, platform="meta"), platform="meta")
    ingest(
        source,
        page("u1", THU, query=GOOGLE),
        order("u1", FRI, 132.0, "USD"),  # Friday's rate: 110 EUR (Thursday's would say 120)
        page("u2", THU, query=META),
        order("u2", FRI, 1600, "JPY"),  # 10 EUR
        page("u3", THU, query=GOOGLE),
        order("u3", THU + timedelta(hours=2), 1000, "JPY"),  # no JPY rate on Thursday: missing
        page("u4", FRI.replace(hour=23, minute=30)),
        order("u4", FRI.replace(hour=23, minute=40), 10, "EUR"),
    )
    Profile.objects.filter(identities__value="u4").update(timezone="Asia/Tokyo")
    touches_extract(since=THU - timedelta(days=1), until=FRI + timedelta(days=2))
    attribution_refresh()


def by_channel(figures):
    return {row.channel: row for row in figures.rows}


def test_channel_figures_by_hand(shop):
    figures = acquisition_figures(start=date(2026, 3, 5), end=date(2026, 3, 6), level="channel", model="last")
    rows = by_channel(figures)
    search, social, direct = rows["Paid Search"], rows["Paid Social"], rows["Direct"]
    assert (search.impressions, search.clicks, search.cost) == (1500, 60, Decimal(70))
    assert (search.sessions, search.new_profiles, search.new_customers, search.orders) == (2, 2, 2, 2)
    assert search.revenue == Decimal(110) and search.missing_fx == 1
    assert search.roas == Decimal(110) / 70 and search.cpa == Decimal(35) and search.cpc == Decimal(70) / 60
    assert (social.cost, social.revenue, social.roas, social.roi) == (
        Decimal(20),
        Decimal(10),
        Decimal("0.5"),
        Decimal("-0.5"),
    )
    assert (direct.cost, direct.orders, direct.revenue) == (0, 1, Decimal(10))
    assert figures.total.revenue == Decimal(130) and figures.total.cost == Decimal(90)
    assert figures.missing_fx == 1 and figures.missing_messages == ["no JPY rate for 2026-03-05"]


def test_roas_window_counts_revenue_within_n_days_of_first_touch(shop):
    one_day = by_channel(
        acquisition_figures(start=date(2026, 3, 5), end=date(2026, 3, 6), roas_window_days=1)
    )
    two_days = by_channel(
        acquisition_figures(start=date(2026, 3, 5), end=date(2026, 3, 6), roas_window_days=2)
    )
    # u1 bought 25 hours after the ad click: outside a one-day window, inside two.
    assert one_day["Paid Search"].window_revenue == 0
    assert two_days["Paid Search"].window_revenue == Decimal(110)
    assert two_days["Paid Search"].window_roas == Decimal(110) / 70


def test_creative_drill_down_and_filters(shop):
    figures = acquisition_figures(
        start=date(2026, 3, 5),
        end=date(2026, 3, 6),
        level="creative",
        channel="Paid Search",
        campaign="Brand",
    )
    assert [(r.channel, r.campaign, r.creative, r.cost) for r in figures.rows] == [
        ("Paid Search", "Brand", "ad-a", Decimal(70))
    ]


def test_days_in_the_profiles_own_zone(shop):
    utc = by_channel(acquisition_figures(start=date(2026, 3, 5), end=date(2026, 3, 6), zone="utc"))
    local = by_channel(acquisition_figures(start=date(2026, 3, 5), end=date(2026, 3, 6), zone="profile"))
    # u4 bought at 23:40 UTC on Friday: Saturday in Tokyo, outside the range.
    assert utc["Direct"].orders == 1
    assert "Direct" not in local


def test_daily_trend(shop):
    figures = acquisition_figures(start=date(2026, 3, 5), end=date(2026, 3, 6), level="day")
    assert [(r.day, r.cost, r.revenue) for r in figures.rows] == [
        (date(2026, 3, 5), Decimal(70), Decimal(0)),
        (date(2026, 3, 6), Decimal(20), Decimal(130)),
    ]


def test_bad_parameters_are_named(shop):
    with pytest.raises(FiguresError, match="model: 'best'"):
        acquisition_figures(start=date(2026, 3, 5), end=date(2026, 3, 6), model="best")
    with pytest.raises(FiguresError, match="end: before start"):
        acquisition_figures(start=date(2026, 3, 6), end=date(2026, 3, 5))
