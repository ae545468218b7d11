"""Small formatting helpers for the behaviour pages."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def pct(value: Any) -> str:
    return "–" if value is None else f"{float(value) * 100:.1f}%"


@register.filter
def duration(seconds: Any) -> str:
    """Seconds as the largest sensible unit: 45 s, 12 min, 3.5 h, 2.1 days."""
    if seconds is None:
        return "–"
    s = float(seconds)
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{s / 60:.0f} min"
    if s < 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


@register.filter
def num(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


@register.filter
def dash(value: Any) -> str:
    return "(none)" if value in (None, "") else str(value)


@register.simple_tag(takes_context=True)
def query_with(context: Any, **changes: Any) -> str:
    query = context["request"].GET.copy()
    for key, value in changes.items():
        query[key] = value
    return query.urlencode()


@register.filter
def window(minutes: Any) -> str:
    """A conversion window as it was set: 7 days, 2 h, 30 min (whole units, not 10080 min)."""
    if minutes is None:
        return "–"
    m = int(minutes)
    for size, one, many in ((1440, "day", "days"), (60, "h", "h")):
        if m and m % size == 0:
            n = m // size
            return f"{n} {one if n == 1 else many}"
    return f"{m} min"
