"""Formatting for report pages: figures, rates, intervals, query strings that keep the options."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings

from journeys.reports.selectors import MONEY_KEYS, cell
from tracking.analytics.money import money_format

register = template.Library()


@register.simple_tag(takes_context=True)
def figure(context, row: dict, key: str) -> str:
    locale = context.get("money_locale")
    if key in MONEY_KEYS:
        return money(row, key, locale=locale)
    if key in ("revenue_by_currency", "cost_by_currency"):
        return originals(row.get(key) or {}, locale)
    return cell(key, row.get(key)) or "–"


def money(row: dict, key: str, *, locale: Any = None) -> str:
    """An amount in the workspace currency for the viewer's locale; marked when some amounts of the
    row had no rate (they are left out, not counted as zero)."""
    value = row.get(key)
    if value is None:
        return "–"
    text = money_format(
        amount=value, currency=row.get("currency") or settings.WORKSPACE_CURRENCY, locale=locale
    )
    kind = "cost" if key == "cost" else "revenue"
    incomplete = (row.get("unconverted") or {}).get(kind) or (kind == "cost" and row.get("spend_missing"))
    return f"{text} *" if incomplete else text


@register.filter
def originals(amounts: dict, locale: Any = None) -> str:
    """{currency: amount} as "€100.00 · ¥3,000", each in its own currency (never added together)."""
    return " · ".join(money_format(amount=a, currency=c, locale=locale) for c, a in amounts.items()) or "–"


@register.simple_tag
def dim(row: dict, col: str) -> str:
    value = row.get(col)
    return value if value not in (None, "") else "(whole campaign: entries, conversions no message touched)"


@register.filter
def pct(value: Any) -> str:
    return "–" if value is None else f"{value * 100:.2f}%"


@register.filter
def pct0(value: Any) -> str:
    return f"{float(value) * 100:g}%"


@register.filter
def interval(value: Any) -> str:
    if not value:
        return "–"
    return f"{value[0] * 100:.2f}% to {value[1] * 100:.2f}%"


@register.filter
def zone_label(tz: str) -> str:
    return {"utc": "UTC", "workspace": f"the workspace zone ({settings.TIME_ZONE})"}.get(
        tz, "each recipient's local time"
    )


@register.simple_tag
def step_share(funnel: list, index: int) -> str:
    before, now = funnel[index - 1][1], funnel[index][1]
    return f"{float(now) / float(before) * 100:.1f}%" if before else "–"


@register.simple_tag
def entered_share(funnel: list, index: int) -> str:
    first, now = funnel[0][1], funnel[index][1]
    return f"{float(now) / float(first) * 100:.1f}%" if first else "–"


@register.simple_tag(takes_context=True)
def query_with(context, **changes: Any) -> str:
    query = context["request"].GET.copy()
    query.pop("export", None)
    for key, value in changes.items():
        query[key] = value
    return query.urlencode()
