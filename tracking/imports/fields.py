"""Parsing one cell: dates, money, quantities, currencies, contacts. Errors name the column and value."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from dateutil import parser as date_parser

from tracking.analytics.money import currency_is_known
from tracking.identity_keys import normalize_email, normalize_phone
from tracking.imports.types import FieldError

# Amazon's older reports write US zone abbreviations ("2013-01-07 07:35:42 PST").
_HOUR = 3600
TZ_ABBREVIATIONS = {
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "PST": -8 * _HOUR,
    "PDT": -7 * _HOUR,
    "MST": -7 * _HOUR,
    "MDT": -6 * _HOUR,
    "CST": -6 * _HOUR,
    "CDT": -5 * _HOUR,
    "EST": -5 * _HOUR,
    "EDT": -4 * _HOUR,
    "BST": 1 * _HOUR,
    "CET": 1 * _HOUR,
    "CEST": 2 * _HOUR,
    "JST": 9 * _HOUR,
}
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
# Dates further ahead than this are typos (or the wrong column), not orders.
FUTURE_TOLERANCE = timedelta(days=1)


def parse_when(value: Any, column: str) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise FieldError(f"{column}: {value!r} is a number, not a date (use ISO 8601)")
    text = str(value or "").strip()
    if not text:
        raise FieldError(f"{column}: missing")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = date_parser.parse(text, tzinfos=TZ_ABBREVIATIONS)
        except (ValueError, OverflowError, date_parser.ParserError):
            raise FieldError(f"{column}: {text!r} is not a date")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed > datetime.now(UTC) + FUTURE_TOLERANCE:
        raise FieldError(f"{column}: {text!r} is in the future")
    if parsed.year < 1990:
        raise FieldError(f"{column}: {text!r} is before 1990")
    return parsed


def parse_amount(value: Any, column: str, *, required: bool = False, allow_negative: bool = False) -> Decimal:
    """A money amount. A lone decimal comma ("89,90", as some EU exports write) is read as a point."""
    if isinstance(value, bool):
        raise FieldError(f"{column}: {value!r} is not a number")
    if isinstance(value, int | float):
        value = repr(value)
    text = str(value or "").strip()
    if not text:
        if required:
            raise FieldError(f"{column}: missing")
        return Decimal(0)
    if "," in text and "." not in text and text.count(",") == 1:
        text = text.replace(",", ".")
    if not _NUMBER.match(text):
        raise FieldError(f"{column}: {str(value).strip()!r} is not a number")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise FieldError(f"{column}: {text!r} is not a number")
    if amount < 0 and not allow_negative:
        raise FieldError(f"{column}: {text} is negative")
    return amount


def parse_quantity(value: Any, column: str) -> int:
    text = str(value if value is not None else "").strip()
    if not text:
        return 1
    if isinstance(value, bool) or not re.fullmatch(r"\d+(\.0+)?", text):
        raise FieldError(f"{column}: {text!r} is not a whole number of items")
    return int(Decimal(text))


def parse_currency(value: Any, column: str, default: str = "") -> str:
    text = str(value or "").strip().upper() or default.upper()
    if not text:
        raise FieldError(f"{column}: missing (add the column or give a default currency)")
    if not currency_is_known(text):
        raise FieldError(f"{column}: {text!r} is not an ISO 4217 currency code")
    return text


# Buyers repeat across the rows of a report, and email validation is most of the reading time.
_email = lru_cache(maxsize=65536)(normalize_email)
_phone = lru_cache(maxsize=65536)(normalize_phone)


def contact_email(value: Any, column: str, warnings: list[str]) -> str | None:
    """A valid email, or None with a warning: the order is still imported, only without the email."""
    text = str(value or "").strip()
    if not text:
        return None
    email = _email(text)
    if email is None:
        warnings.append(f"{column}: {text!r} is not a valid email; order imported without it")
    return email


def contact_phone(value: Any, column: str, region: str | None, warnings: list[str]) -> str | None:
    text = str(value or "").strip()
    if not text:
        return None
    phone = _phone(text, region)
    if phone is None:
        hint = "" if text.startswith("+") or region else " (no country to read a national number)"
        warnings.append(f"{column}: {text!r} is not a valid phone number{hint}; order imported without it")
    return phone


def country_code(value: Any) -> str:
    text = str(value or "").strip().upper()
    return text if len(text) == 2 and text.isalpha() else ""
