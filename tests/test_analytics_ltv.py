"""Realised LTV per cohort, LTV:CAC and payback, and predicted CLV rolled up to channel, campaign and
creative — against hand computations."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tests.test_analytics_attribution import order, page
from tests.tracking_helpers import ingest
from tracking.analytics.acquisition.spend import spend_import, spend_rows_from_json
from tracking.analytics.acquisition.touches import touches_extract
from tracking.analytics.ltv import LtvError, ltv_curves, predicted_ltv_rollup
from tracking.analytics.models import ClvFit, FxRate, ProfilePrediction
from tracking.analytics.money import fx_rates_load
from tracking.models import Profile

pytestmark = pytest.mark.django_db

MAR = datetime(2026, 3, 2, 9, tzinfo=UTC)
BRAND = "?utm_source=google&utm_medium=cpc&utm_campaign=Brand&utm_content=ad-a"
REEL = "?utm_source=facebook&utm_medium=paid_social&utm_campaign=Spring&utm_content=reel-1"


@pytest.fixture
def shop(source, tmp_path, settings):
    settings.WORKSPACE_CURRENCY = "EUR"
    FxRate.objects.all().delete()
    rates = tmp_path / "eurofxref-hist.csv"
    rates.write_text("Date,USD,\n2026-03-04,1.2500,\n")
    fx_rates_load(path=rates)
    spend = [{"day": "2026-03-02", "campaign": "Brand", "ad": "ad-a", "cost": "200", "currency": "EUR"}]
    spend_import(rows=spend_rows_from_json(items=spend, platform="google"), platform="google")
    meta = [{"day": "2026-03-02", "campaign": "Spring", "ad": "reel-1", "cost": "90", "currency": "EUR"}]
    spend_import(rows=spend_rows_from_json(items=meta, platform="meta"), platform="meta")
    day = timedelta(days=1)
    ingest(
        source,
        page("u1", MAR, query=BRAND),
        order("u1", MAR + day, 100, "EUR"),  # first order: Mar 3
        order("u1", MAR + 38 * day, 50, "EUR"),  # 37 days after it: in the 60-day point
        order("u1", MAR + 110 * day, 30, "EUR"),  # 109 days: only in 180 (not matured by July 1)
        page("u2", MAR, query=BRAND),
        order("u2", MAR + 3 * day, 60, "EUR"),  # first order: Mar 5
        order("u2", MAR + 48 * day, 40, "EUR"),  # 45 days after it
        page("u3", MAR),  # Direct
        order("u3", MAR + 2 * day, 20, "USD"),  # Mar 4 at 1.25: 16 EUR
        page("u4", MAR, query=REEL),
        order("u4", MAR + 2 * day, 45, "EUR"),
    )
    touches_extract(since=MAR - day, until=MAR + 200 * day)


def test_cohort_curves_ltv_to_cac_and_payback_by_hand(shop):
    curves = ltv_curves(
        start=date(2026, 3, 1), end=date(2026, 3, 31), by="channel", as_of=datetime(2026, 7, 1, tzinfo=UTC)
    )
    cohorts = {c.key: c for c in curves.cohorts}
    search = cohorts["Paid Search"]
    assert search.customers == 2
    assert search.ltv == {
        30: Decimal(80),  # (100 + 60) / 2
        60: Decimal(125),  # (100 + 50 + 60 + 40) / 2
        90: Decimal(125),
        180: None,  # nobody has had 180 days yet
        365: None,
    }
    assert search.matured == {30: 2, 60: 2, 90: 2, 180: 0, 365: 0}
    assert search.cost == Decimal(200) and search.cac == Decimal(100)
    assert search.ltv_to_cac == Decimal("1.25") and search.payback_days == 60
    social = cohorts["Paid Social"]
    assert (social.ltv[90], social.cac, social.payback_days) == (Decimal(45), Decimal(90), None)
    assert cohorts["Direct"].ltv[30] == Decimal(16) and cohorts["Direct"].cac is None
    by_month = {c.key: c.customers for c in ltv_curves(start=date(2026, 3, 1), end=date(2026, 3, 31), by="month").cohorts}  # fmt: skip
    assert by_month == {"2026-03": 4}
    with pytest.raises(LtvError, match="by: 'colour'"):
        ltv_curves(start=date(2026, 3, 1), end=date(2026, 3, 31), by="colour")


def test_predicted_clv_rolls_up_to_channel_campaign_and_creative(shop):
    ClvFit.objects.create(as_of=date(2026, 7, 1), currency="EUR", customers=4, repeat_customers=2)
    now = datetime(2026, 7, 1, tzinfo=UTC)
    for user, clv, alive in (("u1", "300", 0.5), ("u2", "100", 1.0), ("u3", "40", 0.25), ("u4", None, 0.8)):
        ProfilePrediction.objects.create(
            profile=Profile.objects.get(identities__value=user),
            fitted_at=now,
            frequency=1,
            recency_days=1,
            age_days=100,
            probability_alive=alive,
            expected_orders_90d=0.5,
            predicted_clv_12m=Decimal(clv) if clv else None,
        )
    groups = {g.key: g for g in predicted_ltv_rollup(by="channel")}
    search = groups["Paid Search"]
    assert (search.profiles, search.clv_total, search.clv_mean) == (2, Decimal(400), Decimal(200))
    assert search.at_risk == Decimal(150)  # 300 × 0.5 + 100 × 0
    assert search.cac == Decimal(100) and search.predicted_ltv_to_cac == Decimal(2)
    assert groups["Paid Social"].unpredicted == 1 and groups["Paid Social"].clv_mean is None
    assert groups["Direct"].clv_total == Decimal(40) and groups["Direct"].cost is None
    [creative] = [g for g in predicted_ltv_rollup(by="creative") if g.key.startswith("Paid Search")]
    assert creative.key == "Paid Search / Brand / ad-a" and creative.cost == Decimal(200)
