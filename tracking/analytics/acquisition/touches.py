"""Touches: each page/track event's context is read once for UTM values, click ids, referrer and
landing page, classified into a channel, and stored as a Touch (idempotent per event).

Runs on `tracking.signals.events_processed` for the events just resolved to profiles, and as a
sweep over a time range (`touches_extract(since=…)`) that catches anything a failed receiver missed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from django.db import connection

from tracking.analytics.acquisition.taxonomy import rules_load, touch_classify

# Every ad platform's click id we know of; the first present wins (order = how specific it is).
CLICK_IDS = (
    "gclid",
    "gbraid",
    "wbraid",
    "dclid",
    "msclkid",
    "ttclid",
    "fbclid",
    "twclid",
    "li_fat_id",
    "sccid",
    "epik",
    "rdt_cid",
    "yclid",
)
ORDER_EVENT = "Order Completed"
IMPORT_LIBRARY = "voyage-order-import"
_LIMIT = 200


def _text(value: Any, limit: int = _LIMIT) -> str:
    return str(value).strip()[:limit] if isinstance(value, str | int | float) and value != "" else ""


def _host(url: str) -> str:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.lower().removeprefix("www.")


def touch_values(
    *, event_type: str, name: str, context: dict, properties: dict, source_name: str
) -> dict | None:
    """What one event says about where its visitor came from, or None when it is not a touch."""
    context = context if isinstance(context, dict) else {}
    properties = properties if isinstance(properties, dict) else {}
    page = context.get("page") if isinstance(context.get("page"), dict) else {}
    campaign = context.get("campaign") if isinstance(context.get("campaign"), dict) else {}
    url = _text(page.get("url") or properties.get("url"), 2000)
    referrer = _text(page.get("referrer") or properties.get("referrer"), 2000)
    search = _text(page.get("search") or properties.get("search"), 2000)
    try:
        parts = urlsplit(url) if url else None
    except ValueError:
        parts = None
    # Most page views carry no query string: parse one only when there is one (this runs on ingestion).
    query = parse_qs(parts.query) if parts is not None and parts.query else {}
    if search and search != "?":
        query = {**parse_qs(search.lstrip("?")), **query}

    def param(key: str) -> str:
        values = query.get(key)
        return _text(values[0]) if values else ""

    values = {
        "source": _text(campaign.get("source")) or param("utm_source"),
        "medium": _text(campaign.get("medium")) or param("utm_medium"),
        "campaign": _text(campaign.get("name")) or param("utm_campaign"),
        "term": _text(campaign.get("term")) or param("utm_term"),
        "content": _text(campaign.get("content")) or param("utm_content"),
        "click_id_kind": "",
        "click_id": "",
        "ref_code": param("ref"),
        "referrer_host": "",
        "landing_path": _text(
            page.get("path") or properties.get("path") or (parts.path if parts else ""), 500
        ),
    }
    for key in CLICK_IDS:
        if param(key):
            values["click_id_kind"], values["click_id"] = key, param(key)
            break
    landing_host = (parts.hostname or "").lower().removeprefix("www.") if parts is not None else ""
    referrer_host = _host(referrer)
    internal = bool(referrer_host) and referrer_host == landing_host
    if not internal:
        values["referrer_host"] = referrer_host
    tagged = any(values[k] for k in ("source", "medium", "campaign", "click_id", "ref_code"))
    library = context.get("library") if isinstance(context.get("library"), dict) else {}
    if event_type == "track" and name == ORDER_EVENT and library.get("name") == IMPORT_LIBRARY:
        # An imported order is its own touch: the marketplace (the source it was imported under).
        values.update(source=source_name[:_LIMIT], medium=values["medium"] or "import")
        return values
    if event_type == "page":
        # A page reached from our own site is navigation, not a new arrival.
        return values if tagged or not internal else None
    if event_type in ("track", "screen"):
        return values if tagged else None
    return None


def _partners() -> dict[str, dict[str, int]]:
    from tracking.analytics.models import Partner

    found: dict[str, dict[str, int]] = {"utm": {}, "ref": {}, "coupon": {}}
    for partner in Partner.objects.all():
        for kind, value in (
            ("utm", partner.utm_value),
            ("ref", partner.ref_code),
            ("coupon", partner.coupon_code),
        ):
            if value:
                found[kind][value.lower()] = partner.pk
    return found


def partner_match(partners: dict[str, dict[str, int]], values: dict) -> int | None:
    for kind, keys in (("ref", ("ref_code",)), ("utm", ("source", "campaign", "content"))):
        for key in keys:
            hit = partners[kind].get(values.get(key, "").lower())
            if hit:
                return hit
    return None


# Only what a touch or an order reads, as text (no JSON to build in PostgreSQL and parse here but an
# order's properties and a campaign object), and only events that can be one: every page view; a track
# or screen event when it is an order or carries campaign tags (in context.campaign or a query string).
# Fetching and decoding whole contexts (user agents, devices, …) was most of the cost on ingestion.
_SELECT = """
SELECT e.id, e.profile_id, e.timestamp, e.type, e.name,
       e.context->'page'->>'url', e.context->'page'->>'referrer', e.context->'page'->>'search',
       e.context->'page'->>'path', (e.context->'campaign')::text, e.context->'library'->>'name',
       e.properties->>'url', e.properties->>'referrer', e.properties->>'search', e.properties->>'path',
       CASE WHEN e.name = 'Order Completed' THEN e.properties::text END,
       s.name
FROM tracking_event e JOIN tracking_source s ON s.id = e.source_id
WHERE e.profile_id IS NOT NULL AND e.type IN ('page', 'track', 'screen') AND {where}
  AND (e.type = 'page' OR e.name = 'Order Completed' OR e.context ? 'campaign'
       OR strpos(COALESCE(e.context->'page'->>'url', e.properties->>'url', ''), '?') > 0
       OR COALESCE(e.context->'page'->>'search', e.properties->>'search', '') <> '')
"""
_PAGE_KEYS = ("url", "referrer", "search", "path")

_INSERT_TOUCHES = """
INSERT INTO analytics_touch (event_id, profile_id, at, source, medium, campaign, term, content,
  click_id_kind, click_id, referrer_host, landing_path, ref_code, channel, partner_id)
SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[], %s::text[], %s::text[], %s::text[],
  %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[])
ON CONFLICT (event_id) DO NOTHING
"""

_INSERT_ORDERS = """
INSERT INTO analytics_orderfact (event_id, profile_id, at, order_id, revenue, currency, coupon)
SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[], %s::text[], %s::numeric[], %s::text[], %s::text[])
ON CONFLICT (event_id) DO NOTHING
"""

TOUCH_COLUMNS = (
    "source",
    "medium",
    "campaign",
    "term",
    "content",
    "click_id_kind",
    "click_id",
    "referrer_host",
    "landing_path",
    "ref_code",
)


def order_values(properties: dict, default_currency: str) -> tuple[str, Any, str, str] | None:
    """(order id, revenue, currency, coupon) from Segment's Order Completed properties; revenue is
    `revenue` (net of tax and shipping), else `total`, else `value`. None when there is no amount."""
    from decimal import Decimal, InvalidOperation

    from tracking.analytics.money import currency_is_known

    amount = None
    for key in ("revenue", "total", "value"):
        raw = properties.get(key)
        if isinstance(raw, int | float | str) and not isinstance(raw, bool) and str(raw).strip():
            try:
                amount = Decimal(str(raw))
                break
            except InvalidOperation:
                continue
    if amount is None or not amount.is_finite():
        return None
    currency = _text(properties.get("currency"), 3).upper() or default_currency
    if not currency_is_known(currency):
        currency = "XXX"  # ISO 4217's "no currency": never converted, always counted as missing
    return _text(properties.get("order_id")), amount, currency, _text(properties.get("coupon"), 100)


def touches_extract(
    *, event_ids: list[int] | None = None, since: datetime | None = None, until: datetime | None = None
) -> dict[str, int]:
    """Touches and orders from the given events (ids, or a time range); returns counts inserted."""
    from tracking.analytics.money import workspace_currency

    if event_ids is not None:
        where, params = "e.id = ANY(%s)", [list(event_ids)]
    else:
        where, params = "e.timestamp >= %s AND e.timestamp < %s", [since, until or datetime.max]
    currency = workspace_currency()
    orders: list[list[Any]] = [[] for _ in range(7)]
    candidates: list[tuple[int, Any, int, dict]] = []
    with connection.cursor() as cursor:
        cursor.execute(_SELECT.format(where=where), params)
        for event_id, profile_id, at, etype, name, *page_values, campaign, library, p_url, p_ref, p_search, p_path, order_json, source_name in cursor.fetchall():  # fmt: skip
            context: dict[str, Any] = {
                "page": {k: v for k, v in zip(_PAGE_KEYS, page_values, strict=True) if v is not None},
                "library": {"name": library},
            }
            if campaign is not None:
                context["campaign"] = orjson.loads(campaign)
            properties: Any = orjson.loads(order_json) if order_json is not None else {}
            if isinstance(properties, dict):
                for key, value in zip(_PAGE_KEYS, (p_url, p_ref, p_search, p_path), strict=True):
                    if value is not None:
                        properties[key] = value
            values = touch_values(
                event_type=etype, name=name, context=context, properties=properties, source_name=source_name
            )
            if values is not None:
                candidates.append((profile_id, at, event_id, values))
            if etype == "track" and name == ORDER_EVENT and isinstance(properties, dict):
                order = order_values(properties, currency)
                if order is not None:
                    for column, value in zip(orders, [event_id, profile_id, at, *order], strict=True):
                        column.append(value)
        # The taxonomy and partners only when something is to be classified.
        touches = _sessionize(cursor, candidates, rules_load, _partners) if candidates else [[]]
        if touches[0]:
            cursor.execute(_INSERT_TOUCHES, touches)
        if orders[0]:
            cursor.execute(_INSERT_ORDERS, orders)
    return {"touches": len(touches[0]), "orders": len(orders[0])}


# A page view with the same origin as the profile's previous touch within this long is the same
# visit (every page of a single-page app repeats the landing referrer and UTM tags), not a new touch.
SESSION_GAP = timedelta(minutes=30)
_ORIGIN = ("source", "medium", "campaign", "content", "click_id", "referrer_host", "ref_code")


def _sessionize(cursor, candidates: list, load_rules, load_partners) -> list[list[Any]]:
    """Touch rows for the candidates that start a visit: a new origin, or the same origin after a gap."""
    touches: list[list[Any]] = [[] for _ in range(15)]
    rules = partners = None
    if not candidates:
        return touches
    # Each profile's stored touches from SESSION_GAP before its first candidate to its last: only they
    # can decide whether a candidate goes on a visit. One (profile, at) index range per profile — a
    # single time range over every profile of the batch read (and filtered out) everyone's touches.
    spans: dict[int, list] = {}
    for profile_id, at, _, _ in candidates:
        span = spans.setdefault(profile_id, [at, at])
        span[0], span[1] = min(span[0], at), max(span[1], at)
    cursor.execute(
        f"""SELECT t.profile_id, t.at, t.event_id, {", ".join("t." + c for c in _ORIGIN)}
            FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[]) AS q(profile_id, lo, hi)
            JOIN analytics_touch t ON t.profile_id = q.profile_id AND t.at >= q.lo AND t.at <= q.hi""",
        [list(spans), [lo - SESSION_GAP for lo, _ in spans.values()], [hi for _, hi in spans.values()]],
    )
    timeline = [(row[0], row[1], row[2], "stored", tuple(row[3:])) for row in cursor.fetchall()]
    stored = {item[2] for item in timeline}
    timeline += [(pid, at, event_id, "event", values) for pid, at, event_id, values in candidates]
    timeline.sort(key=lambda item: (item[0], item[1], item[2], item[3] == "event"))
    last: dict[int, tuple[Any, tuple]] = {}
    for profile_id, at, event_id, kind, payload in timeline:
        if kind == "stored":
            last[profile_id] = (at, payload)
            continue
        values = payload
        origin = tuple(values[k] for k in _ORIGIN)
        previous = last.get(profile_id)
        last[profile_id] = (at, origin)
        if event_id in stored:
            continue
        if previous and previous[1] == origin and at - previous[0] <= SESSION_GAP:
            continue  # the same visit goes on
        if rules is None:
            rules, partners = load_rules(), load_partners()
        partner_id = partner_match(partners, values)
        channel = "Affiliate/KOL" if partner_id else touch_classify(rules, values)
        row = [event_id, profile_id, at, *(values[c] for c in TOUCH_COLUMNS), channel, partner_id]
        for column, value in zip(touches, row, strict=True):
            column.append(value)
    return touches


def touches_reclassify() -> int:
    """Apply the current taxonomy and partners to every stored touch (after an operator edits them)."""
    from tracking.analytics.models import Touch

    rules = rules_load()
    partners = _partners()
    changed = 0
    batch = []
    for touch in Touch.objects.only("id", "channel", "partner_id", *TOUCH_COLUMNS).iterator(chunk_size=5000):
        values = {c: getattr(touch, c) for c in TOUCH_COLUMNS}
        partner_id = partner_match(partners, values)
        channel = "Affiliate/KOL" if partner_id else touch_classify(rules, values)
        if channel != touch.channel or partner_id != touch.partner_id:
            touch.channel, touch.partner_id = channel, partner_id
            batch.append(touch)
    Touch.objects.bulk_update(batch, ["channel", "partner_id"], batch_size=2000)
    changed += len(batch)
    return changed
