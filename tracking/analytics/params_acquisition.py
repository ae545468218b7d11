"""Reading the acquisition pages' and API's options from a query string; errors name the option."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.utils import timezone

from tracking.analytics.acquisition.figures import LEVELS, MODELS, ZONES, FiguresError

DEFAULT_DAYS = 30


def _date(query: Any, name: str, default: date) -> date:
    text = (query.get(name) or "").strip()
    if not text:
        return default
    try:
        parsed = date.fromisoformat(text)
    except ValueError:
        raise FiguresError(f"{name}: {text!r} is not a date (YYYY-MM-DD)")
    # Outside the days events can have, zone and day arithmetic would leave Python's dates.
    if not date(1970, 1, 1) <= parsed <= date(2199, 12, 31):
        raise FiguresError(f"{name}: must be between 1970-01-01 and 2199-12-31")
    return parsed


def _choice(query: Any, name: str, choices: tuple[str, ...], default: str) -> str:
    value = (query.get(name) or default).strip()
    if value not in choices:
        raise FiguresError(f"{name}: {value!r} is not one of {', '.join(choices)}")
    return value


def _int(query: Any, name: str, default: int, low: int, high: int) -> int:
    text = (query.get(name) or "").strip()
    if not text:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise FiguresError(f"{name}: {text!r} must be a whole number from {low} to {high}")
    return int(text)


def figures_params_parse(query: Any) -> dict[str, Any]:
    today = timezone.localdate()
    end = _date(query, "end", today)
    start = _date(query, "start", end - timedelta(days=DEFAULT_DAYS - 1))
    channel = (query.get("channel") or "").strip() or None
    campaign = (query.get("campaign") or "").strip() or None
    default_level = "creative" if campaign else "campaign" if channel else "channel"
    return {
        "start": start,
        "end": end,
        "zone": _choice(query, "zone", ZONES, "utc"),
        "model": _choice(query, "model", MODELS, "last"),
        "roas_window_days": _int(query, "window", 30, 1, 730),
        "level": _choice(query, "level", LEVELS, default_level),
        "channel": channel,
        "campaign": campaign,
    }
