"""Money in one currency: ECB rates of the day, missing rates flagged (never zero), formatting."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tracking.analytics.models import FxRate
from tracking.analytics.money import (
    Converted,
    Missing,
    MoneySum,
    currency_is_known,
    fx_rates_ensure,
    fx_rates_load,
    money_convert,
    money_format,
)
from tracking.imports.fields import parse_currency
from tracking.imports.types import FieldError

pytestmark = pytest.mark.django_db

# Thursday 2026-03-05 and Friday 2026-03-06 published; nothing after the Friday.
HIST = """Date,USD,JPY,GBP,
2026-03-06,1.2000,160.00,0.8000,
2026-03-05,1.1000,N/A,0.8500,
"""


@pytest.fixture
def rates(tmp_path, settings):
    settings.WORKSPACE_CURRENCY = "EUR"
    FxRate.objects.all().delete()
    path = tmp_path / "eurofxref-hist.csv"
    path.write_text(HIST)
    fx_rates_load(path=path)
    return path


def test_amount_is_converted_at_its_own_days_rate(rates):
    thursday = money_convert(amount=Decimal("110"), currency="USD", on=date(2026, 3, 5))
    friday = money_convert(amount=Decimal("120"), currency="USD", on=date(2026, 3, 6))
    assert isinstance(thursday, Converted) and thursday.amount == Decimal("100")
    assert friday.amount == Decimal("100") and friday.rate_day == date(2026, 3, 6)
    # Cross rate through EUR: 80 GBP on Friday = 100 EUR = 120 USD.
    assert money_convert(amount=80, currency="GBP", on=date(2026, 3, 6), to="USD").amount == Decimal("120")


def test_weekend_uses_fridays_publication_and_a_week_later_is_missing(rates):
    sunday = money_convert(amount=320, currency="JPY", on=date(2026, 3, 8))
    assert sunday.amount == Decimal("2") and sunday.rate_day == date(2026, 3, 6)
    later = money_convert(amount=320, currency="JPY", on=date(2026, 3, 13))
    assert isinstance(later, Missing) and later.message == "no JPY rate for 2026-03-13"
    # The ECB did not quote JPY on the Thursday: missing, not zero, not Friday's rate.
    assert (
        money_convert(amount=1, currency="JPY", on=date(2026, 3, 5)).message == "no JPY rate for 2026-03-05"
    )


def test_same_currency_needs_no_rate(rates):
    result = money_convert(amount=5, currency="EUR", on=date(1990, 1, 1))
    assert isinstance(result, Converted) and result.amount == 5


def test_sum_counts_missing_rates_and_keeps_originals_apart(rates):
    total = MoneySum(currency="EUR")
    total.add(amount=Decimal("110"), currency="USD", on=date(2026, 3, 5))
    total.add(amount=Decimal("50"), currency="EUR", on=date(2026, 3, 5))
    total.add(amount=Decimal("1000"), currency="JPY", on=date(2026, 3, 5))
    assert total.total == Decimal("150")
    assert total.missing == 1 and total.missing_messages == ["no JPY rate for 2026-03-05"]
    assert dict(total.originals) == {"USD": Decimal("110"), "EUR": Decimal("50"), "JPY": Decimal("1000")}


def test_sql_function_agrees_with_python_and_returns_null_when_missing(rates):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT analytics_fx(110, 'USD', '2026-03-05', 'EUR'), analytics_fx(80, 'GBP', '2026-03-07', 'USD'),"
            " analytics_fx(1, 'JPY', '2026-03-05', 'EUR'), analytics_fx(7, 'GBP', '1990-01-01', 'GBP')"
        )
        usd, gbp, jpy, same = cursor.fetchone()
    assert usd == Decimal("100") and gbp == Decimal("120") and jpy is None and same == 7


def test_a_newer_file_replaces_the_days_it_covers(rates, tmp_path):
    newer = tmp_path / "newer.csv"
    newer.write_text("Date,USD,\n2026-03-06,1.2500,\n")
    call_command("fx_rates_load", str(newer))
    assert money_convert(amount=125, currency="USD", on=date(2026, 3, 6)).amount == Decimal("100")
    assert money_convert(amount=110, currency="USD", on=date(2026, 3, 5)).amount == Decimal("100")


@pytest.mark.parametrize(
    "text, message",
    [
        ("When,USD\n", 'line 1: expected the ECB header "Date,USD,JPY,…"'),
        ("Date,USD\n2026-13-01,1.1\n", "line 2, column 1: '2026-13-01' is not a date (YYYY-MM-DD)"),
        ("Date,USD,GBP\n2026-03-01,1.1,abc\n", "line 2, column 3 (GBP): 'abc' is not a number"),
        ("Date,USD\n2026-03-01,0\n", "line 2, column 2 (USD): a rate must be positive"),
    ],
)
def test_bad_rates_file_names_line_and_column(rates, tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(CommandError, match="bad.csv: " + message.replace("(", r"\(").replace(")", r"\)")):
        call_command("fx_rates_load", str(path))
    # Nothing half-loaded: the old rates stand.
    assert money_convert(amount=110, currency="USD", on=date(2026, 3, 5)).amount == Decimal("100")


def test_bundled_history_is_loaded_when_the_table_is_empty(settings):
    FxRate.objects.all().delete()
    fx_rates_ensure()
    # ECB, 2024-01-02: 1 EUR = 1.0956 USD.
    result = money_convert(amount=Decimal("1095.60"), currency="USD", on=date(2024, 1, 2), to="EUR")
    assert result.amount == Decimal("1000")


def test_money_is_formatted_for_the_viewers_locale():
    assert money_format(amount=Decimal("1234.5"), currency="EUR", locale="en-us") == "€1,234.50"
    assert money_format(amount=Decimal("1234.5"), currency="EUR", locale="de-de") == "1.234,50\xa0€"
    assert money_format(amount=1234, currency="JPY", locale="ja") == "￥1,234"
    assert money_format(amount=None, currency="EUR") == "—"


def test_currency_codes_come_from_cldr():
    assert currency_is_known("EUR") and currency_is_known("XCG") and currency_is_known("DEM")
    assert not currency_is_known("EUE")
    assert parse_currency("jpy", "currency") == "JPY"
    with pytest.raises(FieldError, match="'EUE' is not an ISO 4217 currency code"):
        parse_currency("EUE", "currency")
