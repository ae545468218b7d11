"""Ad spend imports from the platforms' CSV exports: columns, errors by line and column, re-import."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from tracking.analytics.acquisition.spend import (
    SpendImportError,
    spend_import,
    spend_rows_from_json,
    spend_rows_read,
)
from tracking.analytics.models import AdSpend

pytestmark = pytest.mark.django_db

GOOGLE = """Ad report
"March 2, 2026 - March 3, 2026"
Day,Campaign,Ad group,Ad name,Currency code,Impr.,Clicks,Cost
2026-03-02,Brand,Exact,ad-a,EUR,"1,200",40,35.50
2026-03-03,Brand,Exact,ad-a,EUR,900,30,"1,020.25"
Total: Account,--,--,--,EUR,"2,100",70,"1,055.75"
"""

META = """Reporting starts,Reporting ends,Day,Campaign name,Ad set name,Ad name,Impressions,Link clicks,Amount spent (USD)
2026-03-01,2026-03-31,2026-03-02,Spring,Lookalike 1%,reel-1,5000,80,120.00
"""

TIKTOK = """Date,Campaign name,Ad group name,Ad name,Impressions,Clicks (destination),Cost,Currency
2026-03-02,Launch,Broad,clip-1,7000,90,55.5,GBP
"""


def test_google_export_is_read_with_title_lines_and_totals_skipped():
    rows = spend_rows_read(text=GOOGLE, platform="google")
    assert [(r.line, r.day, r.impressions, r.clicks, r.cost) for r in rows] == [
        (4, date(2026, 3, 2), 1200, 40, Decimal("35.50")),
        (5, date(2026, 3, 3), 900, 30, Decimal("1020.25")),
    ]
    result = spend_import(rows=rows, platform="google")
    assert result.rows == 2
    assert set(AdSpend.objects.values_list("channel", "source", "medium")) == {
        ("Paid Search", "google", "cpc")
    }


def test_meta_currency_comes_from_the_amount_spent_header():
    (row,) = spend_rows_read(text=META, platform="meta")
    assert (row.campaign, row.ad_group, row.ad, row.cost, row.currency) == (
        "Spring",
        "Lookalike 1%",
        "reel-1",
        120,
        "USD",
    )
    spend_import(rows=[row], platform="meta")
    assert AdSpend.objects.get().channel == "Paid Social"


def test_tiktok_export():
    (row,) = spend_rows_read(text=TIKTOK, platform="tiktok")
    assert (row.clicks, row.cost, row.currency, row.source) == (90, Decimal("55.5"), "GBP", "tiktok")


def test_reimporting_a_day_replaces_it(tmp_path):
    path = tmp_path / "google.csv"
    path.write_text(GOOGLE)
    call_command("import_spend", str(path), "--platform", "google")
    path.write_text(
        "Day,Campaign,Ad group,Ad name,Currency code,Impr.,Clicks,Cost\n2026-03-02,Brand,Exact,ad-a,EUR,10,1,5\n"
    )
    call_command("import_spend", str(path), "--platform", "google")
    assert sorted(AdSpend.objects.values_list("day", "cost")) == [
        (date(2026, 3, 2), Decimal("5")),
        (date(2026, 3, 3), Decimal("1020.25")),
    ]


def test_bad_cells_are_named_by_line_and_column_and_nothing_is_stored(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "Day,Campaign,Ad group,Ad name,Currency code,Impr.,Clicks,Cost\n"
        "2026-03-02,Brand,Exact,ad-a,EUR,10,1,abc\n"
        "someday,Brand,Exact,ad-a,EUR,10,1,5\n"
        "2026-03-02,Brand,Exact,ad-a,EUE,10,1.5,5\n"
    )
    with pytest.raises(CommandError) as info:
        call_command("import_spend", str(path), "--platform", "google")
    assert str(info.value).splitlines() == [
        "bad.csv: line 2, column Cost: 'abc' is not a number",
        "line 3, column Day: 'someday' is not a date",
        "line 4, column Currency code: 'EUE' is not an ISO 4217 currency code",
    ]
    assert not AdSpend.objects.exists()


def test_generic_csv_needs_a_mapping_with_a_source():
    text = "Date;Network;Campaign;Spend;Cur\n2026-03-02;affiliate-net;Summer;12,50;EUR\n"
    with pytest.raises(SpendImportError, match="needs a column mapping"):
        spend_rows_read(text=text, platform="other")
    with pytest.raises(SpendImportError, match="no column for source"):
        spend_rows_read(
            text=text,
            platform="other",
            mapping={"day": "Date", "campaign": "Campaign", "cost": "Spend", "currency": "Cur"},
        )
    (row,) = spend_rows_read(
        text=text,
        platform="other",
        mapping={
            "day": "Date",
            "campaign": "Campaign",
            "cost": "Spend",
            "currency": "Cur",
            "source": "Network",
        },
    )
    assert (row.source, row.cost) == ("affiliate-net", Decimal("12.50"))


def test_api_rows_errors_name_the_row_and_field():
    with pytest.raises(SpendImportError) as info:
        spend_rows_from_json(
            items=[
                {"day": "2026-03-02", "campaign": "A", "cost": "-1", "currency": "EUR"},
                {"campaign": "B"},
                3,
            ],
            platform="google",
        )
    assert info.value.errors == [
        "rows[0].cost: '-1' must be zero or more",
        "rows[1].day: missing",
        "rows[2]: must be an object",
    ]
