"""Formatting for report pages: figures, rates, intervals, query strings that keep the options."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings

from journeys.reports.selectors import cell

register = template.Library()


@register.simple_tag
def figure(row: dict, key: str) -> str:
    return cell(key, row.get(key)) or "–"


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


@register.simple_tag(takes_context=True)
def query_with(context, **changes: Any) -> str:
    query = context["request"].GET.copy()
    query.pop("export", None)
    for key, value in changes.items():
        query[key] = value
    return query.urlencode()
