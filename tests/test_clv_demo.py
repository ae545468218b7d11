"""The demo store's order history gives the CLV fit something to tell: some customers lapse (buy a few
times, then stop) while others keep buying, so probability alive spreads out, the value-at-risk list
has people in it and the backtest compares predicted with actual purchases."""

from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command

from tracking.analytics.clv.pages import clv_page_data
from tracking.analytics.models import ClvFit, ProfilePrediction

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_customers_lapse_and_the_fit_sees_it(tmp_path, monkeypatch):
    monkeypatch.setenv("VOYAGE_DEMO_PASSWORD_FILE", str(tmp_path / "pw"))
    call_command("load_demo", "--shoppers", "800", "--no-progress", stdout=StringIO())
    fit = ClvFit.objects.first()
    assert fit.problems == [], fit.problems
    alive = np.array(ProfilePrediction.objects.values_list("probability_alive", flat=True))
    p10, p90 = np.percentile(alive, [10, 90])
    # Not "alive ≈ 1 for everyone": a tenth of the customers is more likely gone than not.
    assert p10 < 0.5 < p90, (p10, p90)
    backtest = fit.backtest
    assert backtest.get("problems") is None, backtest
    assert backtest["actual_orders"] > 0 and backtest["total_error_pct"] is not None
    data = clv_page_data(limit=20)
    assert data["at_risk"] and all(row["alive"] < data["alive_below"] for row in data["at_risk"])
    assert data["total_at_risk"] > 0
