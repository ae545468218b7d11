"""What every behaviour analysis shares: errors by path, date ranges in a zone, breakdown dimensions,
event-name mapping and the SQL for a profile's zone."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import connection, transaction

from tracking.analytics.behaviour.conditions import condition_errors, conditions_sql

ZONES = ("utc", "workspace", "local")
BREAKDOWN_KINDS = ("property", "trait", "channel", "country", "device")
# Dimensions read from the profile (not from an event): these need the profile joined.
PROFILE_KINDS = ("trait", "channel", "country")
MAX_RANGE_DAYS = 366
# A day in some profile's own zone starts at most 14 h before and ends at most 12 h after the UTC
# day; scans in local time widen the range by this much and then test each event's local date.
LOCAL_MARGIN = timedelta(hours=15)


class AnalysisInvalid(ValueError):
    """A definition with errors; `.errors` lists every one as {"path", "message"}."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = [{"path": p, "message": m} for p, m in errors]
        super().__init__("; ".join(f"{p}: {m}" for p, m in errors))


@dataclass(frozen=True)
class DateRange:
    date_from: date
    date_to: date  # inclusive
    tz: str  # utc | workspace | local

    @property
    def zone_name(self) -> str:
        return "UTC" if self.tz == "utc" else settings.TIME_ZONE

    def utc_bounds(self) -> tuple[datetime, datetime]:
        """[lo, hi) in UTC; in local mode widened so every profile's own days fit."""
        zone = ZoneInfo(self.zone_name if self.tz != "local" else "UTC")
        lo = datetime.combine(self.date_from, datetime.min.time(), tzinfo=zone)
        hi = datetime.combine(self.date_to + timedelta(days=1), datetime.min.time(), tzinfo=zone)
        if self.tz == "local":
            return lo - LOCAL_MARGIN, hi + LOCAL_MARGIN
        return lo, hi


# Events exist only inside ingestion's window (tracking/messages.py); outside it, the zone and
# day arithmetic of a report would leave Python's dates (0001-01-01 minus a day is an OverflowError).
EARLIEST_DAY = date(1970, 1, 1)
LATEST_DAY = date(2199, 12, 31)


def parse_date(value: Any, path: str, errors: list[tuple[str, str]]) -> date | None:
    if isinstance(value, date):
        parsed = value
    else:
        try:
            parsed = date.fromisoformat(str(value))
        except ValueError:
            errors.append((path, f"{value!r} is not a date (YYYY-MM-DD)"))
            return None
    if not EARLIEST_DAY <= parsed <= LATEST_DAY:
        errors.append((path, f"must be between {EARLIEST_DAY} and {LATEST_DAY}"))
        return None
    return parsed


def range_parse(
    raw: dict[str, Any], errors: list[tuple[str, str]], *, prefix: str = "", tz: str = "utc"
) -> DateRange | None:
    lo = parse_date(raw.get("date_from"), f"{prefix}date_from", errors)
    hi = parse_date(raw.get("date_to"), f"{prefix}date_to", errors)
    if lo is None or hi is None:
        return None
    if lo > hi:
        errors.append((f"{prefix}date_to", "must not be before date_from"))
        return None
    if (hi - lo).days >= MAX_RANGE_DAYS:
        errors.append((f"{prefix}date_to", f"a range may cover at most {MAX_RANGE_DAYS} days"))
        return None
    return DateRange(lo, hi, tz)


def tz_parse(value: Any, errors: list[tuple[str, str]]) -> str:
    value = value or "utc"
    if value not in ZONES:
        errors.append(("tz", "must be one of: " + ", ".join(ZONES)))
        return "utc"
    if value == "workspace":
        try:
            ZoneInfo(settings.TIME_ZONE)
        except ZoneInfoNotFoundError:  # pragma: no cover - settings are checked at start
            errors.append(("tz", f"the workspace zone {settings.TIME_ZONE!r} is unknown"))
    return value


def where_parse(raw: Any, path: str, errors: list[tuple[str, str]]) -> list[dict[str, Any]]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        errors.append((path, "must be a list of conditions"))
        return []
    for i, cond in enumerate(raw):
        errors.extend(condition_errors(cond=cond, path=f"{path}[{i}]"))
    return raw


def event_name_parse(raw: Any, path: str, errors: list[tuple[str, str]]) -> str:
    if not isinstance(raw, str) or not raw.strip():
        errors.append((path, "must be an event name"))
        return ""
    return raw


def breakdown_parse(raw: Any, errors: list[tuple[str, str]], *, allowed=BREAKDOWN_KINDS) -> list[dict]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        errors.append(("breakdown", "must be a list of up to three dimensions"))
        return []
    if len(raw) > 3:
        errors.append(("breakdown", "at most three dimensions"))
    out = []
    for i, dim in enumerate(raw[:3]):
        path = f"breakdown[{i}]"
        if not isinstance(dim, dict) or dim.get("kind") not in allowed:
            errors.append((f"{path}.kind", "must be one of: " + ", ".join(allowed)))
            continue
        if dim["kind"] in ("property", "trait"):
            key = dim.get("key")
            if not isinstance(key, str) or not key or any(not s for s in key.split(".")):
                errors.append((f"{path}.key", "must be a dotted path such as category"))
                continue
        out.append({"kind": dim["kind"], **({"key": dim["key"]} if "key" in dim else {})})
    return out


def spec_event_names(name: str) -> list[str]:
    """The stored event names meaning `name`: itself plus the workspace's names mapped onto it."""
    from tracking.analytics.models import EventNameMapping

    mapped = list(EventNameMapping.objects.filter(spec_name=name).values_list("workspace_name", flat=True))
    return [name, *mapped]


def event_filter_sql(*, names: list[str], where: list[dict[str, Any]], alias: str = "e") -> tuple[str, list]:
    cond, params = conditions_sql(conds=where, column=f"{alias}.properties")
    marks = ", ".join(["%s"] * len(names))
    return f"({alias}.name IN ({marks}) AND {cond})", [*names, *params]


# Product names come from the latest orders (a bounded read through the (name, timestamp) index);
# an item not among them is shown by its id.
NAME_LOOKUP_ORDERS = 5000


def product_names(*, ids: list[str]) -> dict[str, str]:
    """Product id (or SKU) → the name the latest orders give it, for the ids a page shows."""
    if not ids:
        return {}
    from tracking.analytics.models import SpecEvent

    names = spec_event_names(SpecEvent.ORDER_COMPLETED)
    marks = ", ".join(["%s"] * len(names))
    with connection.cursor() as cur:
        cur.execute(
            f"""
            SELECT DISTINCT ON (x) x, n FROM (
                SELECT COALESCE(NULLIF(item ->> 'product_id', ''), NULLIF(item ->> 'sku', '')) AS x,
                       NULLIF(item ->> 'name', '') AS n, o.ts
                FROM (SELECT e.timestamp AS ts, e.properties -> 'products' AS products FROM tracking_event e
                      WHERE e.name IN ({marks}) ORDER BY e.timestamp DESC LIMIT %s) o
                CROSS JOIN LATERAL jsonb_array_elements(
                    CASE WHEN jsonb_typeof(o.products) = 'array' THEN o.products ELSE '[]' END) AS item
                WHERE jsonb_typeof(item) = 'object') q
            WHERE x = ANY(%s) AND n IS NOT NULL ORDER BY x, ts DESC
            """,
            [*names, NAME_LOOKUP_ORDERS, list(ids)],
        )
        return dict(cur.fetchall())


def json_path_text_sql(column: str, key: str) -> str:
    """`col -> 'a' ->> 'b'`: the value at a dotted path as text (NULL when absent)."""
    segs = key.split(".")
    quoted = ["'" + s.replace("'", "''").replace("%", "%%") + "'" for s in segs]
    arrows = [" -> "] * (len(segs) - 1) + [" ->> "]
    return column + "".join(a + q for a, q in zip(arrows, quoted, strict=True))


def breakdown_sql(dim: dict[str, Any], *, event: str = "e", profile: str = "p") -> str:
    """The SQL for one breakdown value: of the entry event (property, device) or the profile."""
    kind = dim["kind"]
    if kind == "property":
        return json_path_text_sql(f"{event}.properties", dim["key"])
    if kind == "trait":
        return json_path_text_sql(f"{profile}.traits", dim["key"])
    if kind == "country":
        return f"NULLIF({profile}.country, '')"
    if kind == "channel":
        # The acquisition channel: the channel of the profile's first touch (tracking.analytics'
        # acquisition touches, classified by the channel taxonomy); none before any touch.
        return (
            f"(SELECT _t.channel FROM analytics_touch _t WHERE _t.profile_id = {profile}.id "
            "ORDER BY _t.at, _t.id LIMIT 1)"
        )
    # device/platform: the Segment context's device type, else its OS name.
    return (
        f"COALESCE(NULLIF({event}.context -> 'device' ->> 'type', ''), "
        f"NULLIF({event}.context -> 'os' ->> 'name', ''))"
    )


def zone_sql(tz: str, *, profile: str = "p") -> tuple[str, list[Any]]:
    """The zone each row is read in: UTC, the workspace's, or the profile's own (unknown → workspace)."""
    if tz == "utc":
        return "'UTC'", []
    if tz == "workspace":
        return "%s::text", [settings.TIME_ZONE]
    return "COALESCE(_z.name, %s::text)", [settings.TIME_ZONE]


ZONES_CTE = "_zones AS MATERIALIZED (SELECT name FROM pg_timezone_names)"


def zone_join(tz: str, *, profile: str = "p") -> str:
    return f" LEFT JOIN _zones _z ON _z.name = {profile}.timezone" if tz == "local" else ""


def dim_label(dim: dict[str, Any]) -> str:
    kind = dim["kind"]
    if kind in ("property", "trait"):
        return f"{kind} {dim['key']}"
    return "acquisition channel" if kind == "channel" else kind


def money_total(items: Iterable[tuple[str, date | str, Any]], *, ensure: bool = True) -> dict[str, Any]:
    """Revenue items (currency, order day, amount) as one total in the workspace currency.

    Each amount is converted at its own day's rate (tracking/analytics/money.py); amounts of different
    currencies are never added before that. Items without a currency or a rate are counted as
    missing (and named), never read as zero; the original-currency subtotals stay beside.
    """
    from tracking.analytics.money import MoneySum, fx_rates_ensure, money_format

    if ensure:  # callers converting many rows ensure the rates once
        fx_rates_ensure()
    total = MoneySum()
    for currency, day, amount in items:
        if amount is None:
            continue
        value = Decimal(str(amount))
        if not currency:
            total.missing += 1
            total.originals["(no currency)"] += value
            if "orders without a currency" not in total.missing_messages:
                total.missing_messages.append("orders without a currency")
            continue
        on = day if isinstance(day, date) else date.fromisoformat(str(day))
        total.add(amount=value, currency=str(currency), on=on)
    amount = total.total.quantize(Decimal("0.01"))
    return {
        "revenue": str(amount),
        "revenue_display": money_format(amount=amount, currency=total.currency) if total.converted else "—",
        "revenue_currency": total.currency,
        "revenue_missing": total.missing,
        "revenue_missing_messages": list(total.missing_messages),
        "revenue_by_currency": {
            k: str(v.quantize(Decimal("0.01"))) for k, v in sorted(total.originals.items())
        },
    }


def utc_days(rng: DateRange) -> bool:
    """Whether the range's days are UTC days (what the rollups are kept in)."""
    return rng.tz == "utc" or (rng.tz == "workspace" and ZoneInfo(settings.TIME_ZONE).key == "UTC")


# Analyses sort and hash tens of thousands of rows; PostgreSQL's default 4 MB spills them to disk.
ANALYSIS_WORK_MEM = "64MB"


@contextmanager
def analysis_cursor() -> Iterator[Any]:
    """A cursor in a transaction with room to sort in memory and no JIT (its compile time dominates
    statements of this size)."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "SELECT set_config('work_mem', %s, true), set_config('jit', 'off', true)", [ANALYSIS_WORK_MEM]
        )
        yield cur
