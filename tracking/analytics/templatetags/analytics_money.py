"""Template filters for the growth pages: money in the viewer's locale, ratios, percentages."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_decimal, format_percent
from django import template
from django.http import QueryDict

from tracking.analytics.money import money_format, viewer_locale

register = template.Library()


@register.filter
def money(amount, currency: str) -> str:
    return money_format(amount=amount, currency=currency)


@register.filter
def ratio(value) -> str:
    if value is None:
        return "—"
    return format_decimal(Decimal(value).quantize(Decimal("0.01")), locale=viewer_locale())


@register.filter
def percent(value) -> str:
    if value is None:
        return "—"
    return format_percent(value, format="#,##0.0%", locale=viewer_locale())


@register.filter
def number(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, Decimal) and value != value.to_integral_value():
        value = value.quantize(Decimal("0.01"))
    return format_decimal(value, locale=viewer_locale())


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with some options changed (None or "" removes one)."""
    query: QueryDict = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            query.pop(key, None)
        else:
            query[key] = value
    return query.urlencode()


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None
