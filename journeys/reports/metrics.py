"""Reading campaign figures: rollups plus the rows not folded yet (so a report includes the last
minute), or everything from raw rows (the benchmark's baseline), grouped and bucketed on demand.

`report_rows` returns sums per group; `row_derive` adds the rates, money and attribution view;
`campaign_report` assembles what a page or the API shows for one campaign.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction

from journeys.reports import facts
from journeys.reports.facts import Window
from journeys.reports.fold import deltas_sql, jit_off
from journeys.reports.models import (
    COUNT_METRICS,
    DECIMAL_METRICS,
    METRICS,
    CampaignSpend,
    PendingProfile,
)
from journeys.reports.stats import Verdict, ab_verdict, newcombe_difference, ratio_interval, wilson
from tracking.analytics.money import MoneySum, fx_rates_ensure, workspace_currency

GROUPS = {
    "campaign": ["campaign_kind", "campaign_id"],
    "stage": ["stage_key"],
    "variant": ["variant"],
    "channel": ["channel"],
    "template": ["template_id"],
}
TIME_ZONES = ("utc", "workspace", "local")
BUCKETS = ("hour", "day")
ATTRIBUTIONS = ("last", "first", "linear")
SKIP_FIGURES = [
    ("skip_unsubscribed", "Unsubscribed / no consent"),
    ("skip_suppressed", "Suppressed address"),
    ("skip_no_contact_point", "No contact point"),
    ("skip_capped", "Frequency cap"),
    ("deferred_quiet_hours", "Deferred for quiet hours (sent later)"),
    ("skip_render_error", "Template render error"),
    ("skip_provider_rejected", "Rejected by the provider"),
    ("skip_other", "Other (template missing, channel off, retries exhausted…)"),
]


class ReportError(ValueError):
    """A report parameter that cannot be used; the text names it."""


@dataclass
class ReportQuery:
    campaign: tuple[str, int] | None = None
    start: datetime | date | None = None
    end: datetime | date | None = None  # exclusive; a date means the end of that day
    tz: str = "utc"
    group_by: list[str] = field(default_factory=list)
    bucket: str | None = None
    attribution: str = "last"
    source: str = "rollups"  # rollups | raw

    def check(self) -> None:
        if self.tz not in TIME_ZONES:
            raise ReportError(f"tz: must be one of {', '.join(TIME_ZONES)}")
        if self.bucket not in (None, *BUCKETS):
            raise ReportError(f"bucket: must be one of {', '.join(BUCKETS)}")
        if self.attribution not in ATTRIBUTIONS:
            raise ReportError(f"attribution: must be one of {', '.join(ATTRIBUTIONS)}")
        for g in self.group_by:
            if g not in GROUPS:
                raise ReportError(f"group_by: {g!r} is not one of {', '.join(GROUPS)}")
        if self.source not in ("rollups", "raw"):
            raise ReportError("source: must be rollups or raw")

    def zone(self) -> ZoneInfo:
        return ZoneInfo(settings.TIME_ZONE) if self.tz == "workspace" else ZoneInfo("UTC")


def _bound(value: datetime | date | None, q: ReportQuery, *, end: bool) -> datetime | None:
    """Where a range edge falls on the column it filters: an instant for UTC / workspace views, a
    wall-clock time labelled UTC for the recipients' local view."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if q.tz == "local":
            return value.replace(tzinfo=None).replace(tzinfo=UTC)
        return value if value.tzinfo else value.replace(tzinfo=q.zone())
    day = value + timedelta(days=1) if end else value
    zone = UTC if q.tz == "local" else q.zone()
    return datetime.combine(day, time(0), tzinfo=zone)


def _read_window() -> Window:
    """The cursors, share-locked until the report's transaction ends: a fold (which holds them for
    update) either finished before or starts after, so rollups and live rows never overlap."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT source, position, gaps FROM {facts.table('reports.RollupCursor')} FOR SHARE")
        cursors = {source: (position, gaps) for source, position, gaps in cur.fetchall()}
    return Window(
        mode="live",
        cursors={s: position for s, (position, _) in cursors.items()},
        gaps={s: [(int(lo), int(hi)) for lo, hi, _ in _json(g)] for s, (_, g) in cursors.items()},
        pending_profiles=list(PendingProfile.objects.values_list("profile_id", flat=True)),
    )


def _json(value: Any) -> list:
    return json.loads(value) if isinstance(value, str) else (value or [])


# One grouping of a report: the GROUPS it is by, and whether it is also by time bucket.
Grouping = tuple[tuple[str, ...], bool]


def report_rows(q: ReportQuery) -> list[dict[str, Any]]:
    """Sums of every figure per group (and time bucket), for the campaign(s) and range asked."""
    return report_groupings(q, [(tuple(q.group_by), bool(q.bucket))])[0]


def report_groupings(q: ReportQuery, groupings: list[Grouping]) -> list[list[dict[str, Any]]]:
    """report_rows for several groupings of the same query (q.group_by and q.bucket are ignored;
    the bucket is q.bucket), read in one go: the rows not folded yet are computed once, not once
    per table of a page."""
    q.check()
    for groups, bucketed in groupings:
        ReportQuery(group_by=list(groups), bucket=q.bucket if bucketed else None).check()
        if bucketed and not q.bucket:
            raise ReportError("bucket: must be one of hour, day")
    with transaction.atomic():
        jit_off()
        return _groupings_sql(q, groupings)


# Money figures: summed per currency, converted to the workspace currency at each day's rate.
MONEY = [
    "revenue_last",
    "revenue_first",
    "revenue_linear",
    "holdout_revenue",
    "cost_provider",
    "cost_configured",
]


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    """A group's row before its currencies are merged in: every figure zero, money in the workspace
    currency, `originals` {figure: {currency: amount}}, and what could not be converted."""
    for m in COUNT_METRICS:
        row[m] = int(row.get(m) or 0)
    for m in [*DECIMAL_METRICS, "cost_configured"]:
        row[m] = Decimal(row.get(m) or 0)
    row.setdefault("currency", workspace_currency())
    row.setdefault("originals", {})
    row.setdefault("unconverted", {"revenue": {}, "cost": {}})
    row.setdefault("unconverted_conversions", Decimal(0))
    row.setdefault("missing_rates", [])
    row.setdefault("missing_days", {})
    return row


def missing_rates_text(days: dict[str, set[date]]) -> list[str]:
    """ "no JPY rate for 2026-03-05", or for several days "no BRL rate for 2026-11-02 to 2026-11-30
    (21 days)": one line per currency, so a long gap does not flood the page."""
    out = []
    for code, found in sorted(days.items()):
        ordered = sorted(found)
        if len(ordered) == 1:
            out.append(f"no {code} rate for {ordered[0].isoformat()}")
        else:
            out.append(f"no {code} rate for {ordered[0]} to {ordered[-1]} ({len(ordered)} days)")
    return out


def _finish(rows: list[dict[str, Any]], cols: list[str]) -> list[dict[str, Any]]:
    """Ordered by the grouping's columns; a grouping without columns always has its one row."""
    if not cols:
        return rows or [_typed({})]
    return sorted(rows, key=lambda r: tuple(r[c] for c in cols))


def _cols(groups: tuple[str, ...], bucketed: bool) -> list[str]:
    return [c for g in groups for c in GROUPS[g]] + (["bucket"] if bucketed else [])


def _groupings_sql(q: ReportQuery, groupings: list[Grouping]) -> list[list[dict[str, Any]]]:
    p = facts.zone_params({})
    if q.source == "raw":
        w = Window(mode="raw")
        inner = deltas_sql(w, p, q.campaign, cost_state=False)
    else:
        w = _read_window()
        rollup = facts.table("reports.HourlyRollup")
        where = ""
        if q.campaign is not None:
            p["c_kind"], p["c_id"] = q.campaign
            where = " WHERE campaign_kind = %(c_kind)s AND campaign_id = %(c_id)s"
        cols = ", ".join([*facts.DIM_NAMES.split(", "), "hour", "local_hour", *METRICS])
        inner = f"SELECT {cols} FROM {rollup}{where} UNION ALL " + deltas_sql(
            w, p, q.campaign, cost_state=True
        )
    cte = (
        "WITH cand AS ("
        + facts.conversions_candidates_sql(w, p, q.campaign)
        + "), "
        + facts.conversions_sql(p, "cand")
    )
    inner += " UNION ALL SELECT * FROM credited"
    p["view_zone"] = "UTC" if q.tz != "workspace" else settings.TIME_ZONE
    time_col = "local_hour" if q.tz == "local" else "hour"
    conds = []
    start, end = _bound(q.start, q, end=False), _bound(q.end, q, end=True)
    if start:
        p["start"] = start
        conds.append(f"x.{time_col} >= %(start)s")
    if end:
        p["end"] = end
        conds.append(f"x.{time_col} < %(end)s")
    costs = facts.table("reports.ChannelCost")
    bucket = f"date_trunc('{q.bucket}', x.{time_col}, %(view_zone)s)" if q.bucket else "NULL::timestamptz"
    # A row's money is in one currency: its revenue / provider price in `x.currency`, or for the
    # messages it counts as sent, the configured price in that price's currency (a sent row holds no
    # other money). '' is the workspace currency. Each amount is converted at its own UTC day's rate.
    p["ws_currency"] = workspace_currency()
    priced = (
        f"SELECT x.*, {bucket} AS bucket, (x.hour AT TIME ZONE 'UTC')::date AS day, "
        "x.sent * COALESCE(cc.amount, 0) AS cost_configured, "
        "CASE WHEN x.sent <> 0 AND cc.amount IS NOT NULL THEN cc.currency ELSE x.currency END AS money_currency "
        f"FROM ({inner}) x LEFT JOIN LATERAL (SELECT c.amount, c.currency FROM {costs} c "
        "WHERE c.channel = x.channel AND c.valid_from <= (x.hour AT TIME ZONE 'UTC')::date "
        "ORDER BY c.valid_from DESC LIMIT 1) cc ON TRUE "
        f"{'WHERE ' + ' AND '.join(conds) if conds else ''}"
    )
    cur = "COALESCE(NULLIF(z.money_currency, ''), %(ws_currency)s)"
    converted = ", ".join(
        f"CASE WHEN {cur} = %(ws_currency)s THEN z.{m} ELSE analytics_fx(z.{m}, {cur}, z.day, %(ws_currency)s) END AS {m}_ws"
        for m in MONEY
    )
    rows_sql = f"SELECT z.*, {cur} AS currency_code, {converted} FROM ({priced}) z"
    revenue, conv = f"revenue_{q.attribution}", f"conv_{q.attribution}"
    unconverted = f"(y.{revenue}_ws IS NULL AND y.{revenue} <> 0)"
    cost_unconverted = "((y.cost_provider_ws IS NULL AND y.cost_provider <> 0) OR (y.cost_configured_ws IS NULL AND y.cost_configured <> 0))"
    money_sums = [f"SUM(y.{m}) AS {m}" for m in MONEY] + [
        f"COALESCE(SUM(y.{m}_ws), 0) AS {m}_ws" for m in MONEY
    ]
    missing = [
        f"COALESCE(SUM(y.{conv}) FILTER (WHERE {unconverted}), 0) AS conv_unconverted",
        f"COALESCE(SUM(y.{revenue}) FILTER (WHERE {unconverted}), 0) AS revenue_unconverted",
        f"COALESCE(SUM(y.cost_provider + y.cost_configured) FILTER (WHERE {cost_unconverted}), 0) AS cost_unconverted",
        f"array_agg(DISTINCT y.day) FILTER (WHERE {unconverted} OR {cost_unconverted}) AS missing_days",
    ]
    # Every grouping in one GROUPING SETS query, each also by currency (merged below, the money of
    # each currency kept apart); GROUPING() tells which set a row belongs to.
    every = list(dict.fromkeys(c for g in groupings for c in _cols(*g)))
    flags = [*every, "currency_code"]
    sets = ", ".join("(" + ", ".join([*_cols(*g), "currency_code"]) + ")" for g in groupings)
    select = [*flags, f"GROUPING({', '.join(flags)}) AS grouping_set"]
    select += [f"SUM(y.{m}) AS {m}" for m in METRICS if m not in MONEY] + money_sums + missing
    sql = f"{cte} SELECT {', '.join(select)} FROM ({rows_sql}) y GROUP BY GROUPING SETS ({sets})"
    fx_rates_ensure()
    with connection.cursor() as cursor:
        cursor.execute(sql, p)
        names = [c.name for c in cursor.description]
        fetched = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    out: list[list[dict[str, Any]]] = []
    for g in groupings:
        cols = _cols(*g)
        mask = sum(
            1 << (len(flags) - 1 - i) for i, c in enumerate(flags) if c not in cols and c != "currency_code"
        )
        merged: dict[tuple, dict[str, Any]] = {}
        for r in fetched:
            if r["grouping_set"] != mask:
                continue
            key = tuple(r[c] for c in cols)
            row = merged.setdefault(key, _typed({c: r[c] for c in cols}))
            _money_merge(row, r)
        rows = []
        for row in merged.values():
            if "bucket" in row and row["bucket"] is not None:
                b = row["bucket"]
                row["bucket"] = (
                    b.astimezone(ZoneInfo(p["view_zone"])) if q.tz != "local" else b.replace(tzinfo=None)
                )
            rows.append(row)
        out.append(_finish(rows, cols))
    return out


def _money_merge(row: dict[str, Any], part: dict[str, Any]) -> None:
    """Add one currency's sums to a group's row: counts add up, money adds up only once converted
    to the workspace currency; each original currency keeps its own subtotal beside it."""
    for m in COUNT_METRICS:
        row[m] += int(part[m] or 0)
    row["conv_linear"] += Decimal(part["conv_linear"] or 0)
    code = part["currency_code"]
    for m in MONEY:
        amount = Decimal(part[m] or 0)
        row[m] += Decimal(part[f"{m}_ws"] or 0).quantize(Decimal("0.000001"))
        if amount:
            row["originals"].setdefault(m, {})
            row["originals"][m][code] = row["originals"][m].get(code, Decimal(0)) + amount
    if part["missing_days"]:
        row["unconverted_conversions"] += Decimal(part["conv_unconverted"] or 0)
        for kind in ("revenue", "cost"):
            amount = Decimal(part[f"{kind}_unconverted"] or 0)
            if amount:
                row["unconverted"][kind][code] = row["unconverted"][kind].get(code, Decimal(0)) + amount
        row["missing_days"].setdefault(code, set()).update(part["missing_days"])
        row["missing_rates"] = missing_rates_text(row["missing_days"])


FUNNEL_STEPS = [
    ("entered", "Entered"),
    ("reached", "Reached (a message sent)"),
    ("opened", "Opened"),
    ("clicked", "Clicked"),
    ("converted", "Converted after clicking"),
]


def people_funnel(q: ReportQuery) -> dict[str, int]:
    """People at each funnel step (see facts.people_funnel_sql), entries in the report's range."""
    q.check()
    if q.campaign is None:
        raise ReportError("campaign: the people funnel is per campaign")
    p = facts.zone_params({})
    entered_at = "x.entered_at"
    if q.tz == "local":
        entered_at = f"((x.entered_at AT TIME ZONE {facts._zone('p')}) AT TIME ZONE 'UTC')"
    conds = ["TRUE"]
    start, end = _bound(q.start, q, end=False), _bound(q.end, q, end=True)
    if start:
        p["f_start"] = start
        conds.append(f"{entered_at} >= %(f_start)s")
    if end:
        p["f_end"] = end
        conds.append(f"{entered_at} < %(f_end)s")
    sql = facts.people_funnel_sql(p, q.campaign, entered_filter=" AND ".join(conds))
    with transaction.atomic():
        jit_off()
        with connection.cursor() as cursor:
            cursor.execute(sql, p)
            names = [c.name for c in cursor.description]
            return {k: int(v) for k, v in zip(names, cursor.fetchone(), strict=True)}


def _ratio(a: float | Decimal, b: float | Decimal) -> float | None:
    return float(a) / float(b) if b else None


def row_derive(
    row: dict[str, Any], *, attribution: str = "last", spend: MoneySum | None = None
) -> dict[str, Any]:
    """Rates, money and the attribution view of one row of sums. Money is in the workspace currency
    (`currency`); `revenue_by_currency` / `cost_by_currency` keep the original amounts apart, and
    `missing_rates` says what could not be converted (left out of the totals, never counted as 0)."""
    out = dict(row)
    conversions = row["conv_linear"] if attribution == "linear" else row[f"conv_{attribution}"]
    revenue = row[f"revenue_{attribution}"]
    recipients = row["entered"] or row["targeted"]
    spend = spend or MoneySum(currency=row.get("currency") or workspace_currency())
    cost = row["cost_provider"] + row["cost_configured"] + spend.total
    originals = row.get("originals", {})
    costs: dict[str, Decimal] = {}
    for m in ("cost_provider", "cost_configured"):
        for code, amount in originals.get(m, {}).items():
            costs[code] = costs.get(code, Decimal(0)) + amount
    for code, amount in spend.originals.items():
        costs[code] = costs.get(code, Decimal(0)) + amount
    missing = list(dict.fromkeys([*row.get("missing_rates", []), *spend.missing_messages]))
    out.update(
        recipients=recipients,
        not_sent=sum(row[k] for k, _ in SKIP_FIGURES if k != "deferred_quiet_hours"),
        conversions=float(conversions) if attribution == "linear" else int(conversions),
        revenue=revenue,
        revenue_by_currency=dict(sorted(originals.get(f"revenue_{attribution}", {}).items())),
        spend=spend.total,
        cost=cost,
        cost_by_currency=dict(sorted(costs.items())),
        missing_rates=missing,
        spend_missing=spend.missing,
        missing_days={code: sorted(days) for code, days in row.get("missing_days", {}).items()},
        money_complete=not missing,
        open_rate=_ratio(row["opens_unique"], row["delivered"]),
        click_rate=_ratio(row["clicks_unique"], row["delivered"]),
        click_to_open=_ratio(row["clicks_unique"], row["opens_unique"]),
        delivery_rate=_ratio(row["delivered"], row["sent"]),
        conversion_rate=_ratio(conversions, recipients),
        revenue_per_recipient=_ratio(revenue, recipients),
        roas=_ratio(revenue, cost),
        roi=_ratio(revenue - cost, cost),
    )
    return out


def spend_for(*, campaign: tuple[str, int] | None, start: Any = None, end: Any = None) -> MoneySum:
    """Manual spend in the workspace currency, each amount at its day's rate (blank currency: the
    workspace's); the originals and any missing rate are kept on the sum."""
    qs = CampaignSpend.objects.all()
    if campaign is not None:
        qs = qs.filter(campaign_kind=campaign[0], campaign_id=campaign[1])
    if start is not None:
        qs = qs.filter(day__gte=start.date() if isinstance(start, datetime) else start)
    if end is not None:
        qs = qs.filter(day__lte=end.date() if isinstance(end, datetime) else end)
    total = MoneySum(currency=workspace_currency())
    for s in qs.order_by("day", "pk"):
        total.add(amount=s.amount, currency=s.currency or total.currency, on=s.day)
    return total


def holdout_figures(total: dict[str, Any], *, level: float = 0.95) -> dict[str, Any] | None:
    """Conversion rate of the treated group vs the holdout, and the uplift with its intervals."""
    nt, xt = total["entered"], int(total["conv_last"])
    nh, xh = total["holdout_entered"], total["holdout_conversions"]
    if not nh:
        return None
    pt, ph = _ratio(xt, nt), _ratio(xh, nh)
    diff = newcombe_difference(xt, nt, xh, nh, level=level) if nt else None
    rel = ratio_interval(xt, nt, xh, nh, level=level) if nt else None
    out = {
        "treated": {"entered": nt, "converted": xt, "rate": pt, "ci": wilson(xt, nt, level=level)},
        "holdout": {"entered": nh, "converted": xh, "rate": ph, "ci": wilson(xh, nh, level=level)},
        "uplift_absolute": None if pt is None or ph is None else pt - ph,
        "uplift_absolute_ci": diff,
        "uplift_relative": None if not ph or pt is None else pt / ph - 1,
        "uplift_relative_ci": rel,
        "level": level,
    }
    if diff is None:
        out["sentence"] = "Not enough entries yet to compare with the holdout."
    elif diff[0] > 0:
        out["sentence"] = (
            f"The campaign works: treated profiles converted {(pt - ph) * 100:.1f} points more often than the "
            f"holdout ({int(level * 100)}% interval {diff[0] * 100:.1f} to {diff[1] * 100:.1f} points)."
        )
    elif diff[1] < 0:
        out["sentence"] = (
            f"The campaign hurts: treated profiles converted {(ph - pt) * 100:.1f} points less often than the holdout."
        )
    else:
        out["sentence"] = (
            f"No measurable effect yet: the uplift could be anywhere from {diff[0] * 100:.1f} to "
            f"{diff[1] * 100:.1f} points ({int(level * 100)}% interval includes zero)."
        )
    return out


AB_METRICS = {
    "open": ("opens_unique", "delivered"),
    "click": ("clicks_unique", "delivered"),
    "conversion": ("conv_last", "recipients"),
}


def ab_figures(variant_rows: list[dict[str, Any]], *, metric: str, level: float = 0.95) -> Verdict:
    if metric not in AB_METRICS:
        raise ReportError(f"metric: must be one of {', '.join(AB_METRICS)}")
    hit, base = AB_METRICS[metric]
    rows = [
        (
            r["variant"] or "(none)",
            int(r[hit]),
            int(r[base] if base != "recipients" else (r["entered"] or r["targeted"])),
        )
        for r in variant_rows
        if r["variant"]
    ]
    return ab_verdict(rows, metric=f"{metric} rate", level=level)


def campaign_report(
    *,
    campaign: tuple[str, int],
    start: Any = None,
    end: Any = None,
    tz: str = "utc",
    bucket: str = "day",
    attribution: str = "last",
    ab_metric: str = "click",
    level: float = 0.95,
    source: str = "rollups",
) -> dict[str, Any]:
    """Everything a campaign page shows: totals, funnel, time series, tables, skips, holdout, A/B."""
    if not 0.5 <= level < 1:
        raise ReportError("level: must be between 0.5 and 0.999")
    base = dict(campaign=campaign, start=start, end=end, tz=tz, attribution=attribution, source=source)
    spend = spend_for(campaign=campaign, start=start, end=end)
    names = ("stage", "variant", "channel", "template")
    totals, by_time, *by_group = report_groupings(
        ReportQuery(**base, bucket=bucket), [((), False), ((), True), *[((g,), False) for g in names]]
    )
    total = row_derive(totals[0], attribution=attribution, spend=spend)
    series = [row_derive(r, attribution=attribution) for r in by_time]
    tables = {
        g: [row_derive(r, attribution=attribution) for r in rows]
        for g, rows in zip(names, by_group, strict=True)
    }
    people = people_funnel(ReportQuery(**base))
    # People: each step a subset of the one before. Messages: volumes, several per person possible.
    funnel = [(label, people[key]) for key, label in FUNNEL_STEPS]
    volumes = [
        ("Messages targeted", total["targeted"]),
        ("Not sent (skipped or rejected)", total["not_sent"]),
        ("Sent", total["sent"]),
        ("Delivered", total["delivered"]),
        ("Opened (unique per message)", total["opens_unique"]),
        ("Clicked (unique per message)", total["clicks_unique"]),
    ]
    return {
        "campaign": campaign,
        "total": total,
        "funnel": funnel,
        "people": people,
        "volumes": volumes,
        "series": series,
        "tables": tables,
        "skips": [(label, total[k]) for k, label in SKIP_FIGURES],
        "holdout": holdout_figures(total, level=level),
        "ab": ab_figures(tables["variant"], metric=ab_metric, level=level),
    }
