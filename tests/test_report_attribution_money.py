"""Attribution models and money over currencies on a case small enough to work out by hand
(journeys/reports/testing.py::attribution_case_generate describes the five runs).

Workspace currency EUR. Rates: 2026-03-05 USD 1.10, no JPY; 2026-03-06 USD 1.20, JPY 160.
Conversions: run 1 90 EUR (touches A, B, C), run 2 110 USD = 100 EUR (A), run 3 3000 JPY, no rate
(B, C), run 4 3200 JPY = 20 EUR (C).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from journeys.reports import fold, metrics
from journeys.reports.selectors import report_for
from journeys.reports.testing import CASE_RATES, attribution_case_generate
from tracking.analytics.models import FxRate
from tracking.analytics.money import fx_rates_load

pytestmark = pytest.mark.django_db

D = Decimal
# template -> (conversions, revenue in EUR, JPY left unconverted), by hand for each model.
BY_HAND = {
    "last": {"case-a": (1, D("100"), None), "case-c": (3, D("110"), D("3000"))},
    "first": {"case-a": (2, D("190"), None), "case-b": (1, D("0"), D("3000")), "case-c": (1, D("20"), None)},
    "linear": {
        # run 1: 1/3 each (30 EUR); A also all of run 2; B and C half of run 3 (1500 JPY each).
        "case-a": (D("1.333333"), D("130"), None),
        "case-b": (D("0.833333"), D("30"), D("1500")),
        # C is run 1's last touch: 1 - 2 x 0.333333 = 0.333334, + 0.5 + 1.
        "case-c": (D("1.833334"), D("50"), D("1500")),
    },
}


@pytest.fixture
def case(tmp_path, settings):
    settings.WORKSPACE_CURRENCY = "EUR"
    FxRate.objects.all().delete()
    rates = tmp_path / "eurofxref-hist.csv"
    rates.write_text(CASE_RATES)
    fx_rates_load(path=rates)
    return attribution_case_generate()


def _params(attribution: str) -> dict:
    return {"start": None, "end": None, "tz": "utc", "bucket": "day", "attribution": attribution,
            "metric": "click", "level": 0.95}  # fmt: skip


@pytest.mark.parametrize("folded", [False, True], ids=["live", "folded"])
@pytest.mark.parametrize("attribution", ["last", "first", "linear"])
def test_each_model_credits_the_templates_and_stages_that_earned_it(case, attribution, folded):
    if folded:
        fold.rollups_fold_until_idle()
    report = report_for(kind="journey", cid=case.pk, params=_params(attribution))
    rows = {r["template"]: r for r in report["tables"]["template"] if r["conversions"]}
    assert set(rows) == set(BY_HAND[attribution])
    for template, (conversions, revenue, jpy) in BY_HAND[attribution].items():
        row = rows[template]
        assert D(str(row["conversions"])).quantize(D("0.000001")) == D(conversions), (
            template,
            row["conversions"],
        )
        assert row["revenue"].quantize(D("0.000001")) == revenue, (template, row["revenue"])
        assert row["unconverted"]["revenue"].get("JPY") == jpy, template
        assert bool(row["missing_rates"]) == (jpy is not None), template
    # The same credit per stage (A welcome, B nudge, C offer); no conversion is the campaign's alone.
    stages = {r["stage_key"]: r for r in report["tables"]["stage"] if r["conversions"]}
    names = {"case-a": "welcome", "case-b": "nudge", "case-c": "offer"}
    assert {names[t]: rows[t]["conversions"] for t in rows} == {
        s: r["conversions"] for s, r in stages.items()
    }
    # Totals are the campaign's whatever the model: 4 conversions, 90 + 100 + 20 EUR, 3000 JPY unconverted.
    total = report["total"]
    assert D(str(total["conversions"])) == 4
    assert total["revenue"].quantize(D("0.000001")) == D("210")
    assert total["revenue_by_currency"] == {"EUR": D("90"), "JPY": D("6200"), "USD": D("110")}
    assert total["missing_rates"] == ["no JPY rate for 2026-03-05"]
    assert total["unconverted_conversions"] == 1 and total["unconverted"]["revenue"] == {"JPY": D("3000")}


def test_people_funnel_is_nested_and_message_volumes_stand_apart(case):
    report = report_for(kind="journey", cid=case.pk, params=_params("last"))
    # 5 entered; run 5's only message was skipped; runs 1 and 2 opened; run 1 clicked and converted.
    assert [n for _, n in report["funnel"]] == [5, 4, 2, 1, 1]
    assert report["people"]["converted_all"] == 4
    volumes = dict(report["volumes"])
    assert (
        volumes["Messages targeted"] == 8
        and volumes["Sent"] == 7
        and volumes["Not sent (skipped or rejected)"] == 1
    )


def test_csv_keeps_the_original_currencies_apart_and_names_the_missing_rate(case, admin_client):
    response = admin_client.get(f"/reports/journey/{case.pk}/?export=template&attribution=last")
    lines = response.content.decode().splitlines()
    header = lines[0].split(",")
    assert "Revenue in JPY (original)" in header and "Revenue in USD (original)" in header
    assert "Currency" in header
    row_c = next(
        dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line.startswith("case-c")
    )
    assert row_c["Revenue"] == "110.00" and row_c["Currency"] == "EUR"
    assert row_c["Revenue in JPY (original)"] == "6200.00" and row_c["Revenue in EUR (original)"] == "90.00"
    assert row_c["Not converted (missing rates)"] == "no JPY rate for 2026-03-05"


def test_spend_in_another_currency_is_converted_at_its_days_rate(case):
    from journeys.reports.models import CampaignSpend

    CampaignSpend.objects.create(
        campaign_kind="journey", campaign_id=case.pk, day="2026-03-06", amount=12, currency="USD"
    )
    CampaignSpend.objects.create(campaign_kind="journey", campaign_id=case.pk, day="2026-03-06", amount=5)
    spend = metrics.spend_for(campaign=("journey", case.pk))
    assert spend.total == D("15") and dict(spend.originals) == {"USD": D("12"), "EUR": D("5")}
    report = report_for(kind="journey", cid=case.pk, params=_params("last"))
    assert report["total"]["cost"] == D("15") and report["total"]["cost_by_currency"] == {
        "EUR": D("5"),
        "USD": D("12"),
    }


def test_money_is_formatted_for_the_viewers_locale(case, admin_client):
    """Babel formats the workspace currency as the viewer's browser asks (Accept-Language)."""
    page = admin_client.get(
        f"/reports/journey/{case.pk}/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9"
    ).content.decode()
    assert "210,00\xa0€" in page and "3.000\xa0¥" in page  # revenue, and the JPY left unconverted
    page = admin_client.get(f"/reports/journey/{case.pk}/", HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert "€210.00" in page and "¥3,000" in page


def test_a_spend_or_price_in_an_unknown_currency_is_refused(case):
    from django.core.exceptions import ValidationError

    from journeys.reports.models import CampaignSpend

    spend = CampaignSpend(
        campaign_kind="journey", campaign_id=case.pk, day="2026-03-06", amount=1, currency="eue"
    )
    with pytest.raises(ValidationError) as refused:
        spend.full_clean()
    assert "'EUE' is not an ISO 4217 currency code" in str(refused.value.message_dict["currency"])
