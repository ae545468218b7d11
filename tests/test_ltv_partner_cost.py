"""Partner (affiliate/KOL) cost counts in the LTV page's CAC — commission on each credited order plus
the fixed fee, both converted at the order's day's rate — and a cost without a rate is counted, not
zero. By hand."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tests.test_analytics_attribution import order, page
from tests.tracking_helpers import ingest
from tracking.analytics.acquisition.attribution import attribution_refresh
from tracking.analytics.acquisition.spend import spend_import, spend_rows_from_json
from tracking.analytics.acquisition.touches import touches_extract
from tracking.analytics.ltv import ltv_curves
from tracking.analytics.models import FxRate, Partner
from tracking.analytics.money import fx_rates_load

pytestmark = pytest.mark.django_db

MAR4 = datetime(2026, 3, 4, 9, tzinfo=UTC)
MIA = "?utm_source=instagram&utm_medium=kol&utm_campaign=kol-mia&utm_content=latte"
AD = "?utm_source=google&utm_medium=cpc&utm_campaign=Brand&utm_content=ad-a"


def test_partner_commission_and_fee_count_in_cac_at_each_days_rate(source, tmp_path, settings):
    settings.WORKSPACE_CURRENCY = "EUR"
    FxRate.objects.all().delete()
    rates = tmp_path / "eurofxref-hist.csv"
    # USD and GBP per EUR: 1.00 / 0.50 on March 4, 1.25 / 0.80 from March 5.
    rates.write_text("Date,USD,GBP,\n2026-03-05,1.2500,0.8000,\n2026-03-04,1.0000,0.5000,\n")
    fx_rates_load(path=rates)
    Partner.objects.create(
        name="Mia Cooks",
        kind="kol",
        utm_value="kol-mia",
        commission_percent=10,
        fixed_fee=2,
        fee_currency="GBP",
    )
    spend = [{"day": "2026-03-04", "campaign": "Brand", "ad": "ad-a", "cost": "30", "currency": "EUR"}]
    spend_import(rows=spend_rows_from_json(items=spend, platform="google"), platform="google")
    day = timedelta(days=1)
    ingest(
        source,
        page("k1", MAR4, query=MIA),
        order("k1", MAR4 + timedelta(hours=1), 50, "USD"),  # 50 EUR; 5 commission + 2 GBP = 4 EUR fee
        page("k2", MAR4 + day, query=MIA),
        order("k2", MAR4 + day + timedelta(hours=1), 100, "USD"),  # 80 EUR; 8 + 2.50 fee
        page("k3", MAR4 + day, query=MIA),
        order("k3", MAR4 + day + timedelta(hours=2), 40, "SAR"),  # no SAR rate: revenue and cost left out
        page("a1", MAR4, query=AD),
        order("a1", MAR4 + timedelta(hours=3), 60, "EUR"),
    )
    touches_extract(since=MAR4 - day, until=MAR4 + 10 * day)
    attribution_refresh()
    as_of = datetime(2026, 7, 1, tzinfo=UTC)
    for by, key in (
        ("channel", "Affiliate/KOL"),
        ("campaign", "Affiliate/KOL / kol-mia"),
        ("creative", "Affiliate/KOL / kol-mia / latte"),
    ):
        cohorts = {c.key: c for c in ltv_curves(start=date(2026, 3, 1), end=date(2026, 3, 31), by=by, as_of=as_of).cohorts}  # fmt: skip
        kol = cohorts[key]
        assert kol.customers == 3 and kol.cost == Decimal("19.5"), by  # 5 + 4 + 8 + 2.5
        assert kol.cost_missing_fx == 1 and kol.missing_fx == 1, by
        assert kol.cac == Decimal("6.5"), by  # 19.5 / 3 customers
        assert kol.ltv[90] == Decimal(130) / 3, by  # (50 + 80) / 3: the SAR order has no rate
        assert kol.payback_days == 30, by
    search = {
        c.key: c for c in ltv_curves(start=date(2026, 3, 1), end=date(2026, 3, 31), as_of=as_of).cohorts
    }["Paid Search"]
    assert (search.cost, search.cac, search.ltv_to_cac) == (Decimal(30), Decimal(30), Decimal(2))
