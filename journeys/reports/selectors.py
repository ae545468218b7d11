"""What the pages and the API show: request parameters read once, campaigns listed with their figures,
tables flattened for CSV."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from channels.models import Template
from journeys.models import Broadcast, Journey
from journeys.reports.metrics import (
    AB_METRICS,
    ATTRIBUTIONS,
    BUCKETS,
    TIME_ZONES,
    ReportError,
    ReportQuery,
    campaign_report,
    report_groupings,
    row_derive,
    spend_for,
)


def params_parse(data: Any) -> dict[str, Any]:
    """Report options from a query string; a bad value raises ReportError naming the parameter."""
    out: dict[str, Any] = {}
    for name in ("start", "end"):
        value = (data.get(name) or "").strip()
        if value:
            try:
                out[name] = date.fromisoformat(value)
            except ValueError:
                raise ReportError(f"{name}: {value!r} is not a date (YYYY-MM-DD)") from None
        else:
            out[name] = None
    if out["start"] and out["end"] and out["end"] < out["start"]:
        raise ReportError("end: must not be before start")
    choices = {"tz": TIME_ZONES, "bucket": BUCKETS, "attribution": ATTRIBUTIONS, "metric": tuple(AB_METRICS)}
    defaults = {"tz": "utc", "bucket": "day", "attribution": "last", "metric": "click"}
    for name, allowed in choices.items():
        value = data.get(name) or defaults[name]
        if value not in allowed:
            raise ReportError(f"{name}: {value!r} is not one of {', '.join(allowed)}")
        out[name] = value
    level = data.get("level") or "0.95"
    try:
        out["level"] = float(level)
    except ValueError:
        raise ReportError(f"level: {level!r} is not a number") from None
    if not 0.5 <= out["level"] < 1:
        raise ReportError("level: must be between 0.5 and 0.999")
    return out


def campaign_name(kind: str, cid: int) -> str | None:
    model = Journey if kind == "journey" else Broadcast if kind == "broadcast" else None
    if model is None:
        return None
    obj = model.objects.filter(pk=cid).first()
    return obj.name if obj else None


def campaigns_overview(
    *, start: Any, end: Any, tz: str, attribution: str = "last", **_: Any
) -> list[dict[str, Any]]:
    """Every journey and broadcast with its totals and a daily series of sends and conversions."""
    base = dict(start=start, end=end, tz=tz, attribution=attribution)
    by_campaign, by_day = report_groupings(
        ReportQuery(**base, bucket="day"), [(("campaign",), False), (("campaign",), True)]
    )
    totals = {(r["campaign_kind"], r["campaign_id"]): r for r in by_campaign}
    days: dict[tuple[str, int], list] = {}
    for r in by_day:
        days.setdefault((r["campaign_kind"], r["campaign_id"]), []).append(r)
    names = {("journey", j.pk): j.name for j in Journey.objects.all()} | {
        ("broadcast", b.pk): b.name for b in Broadcast.objects.all()
    }
    out = []
    for key in sorted(set(names) | set(totals), key=lambda k: (k[0], -k[1])):
        if key not in totals:
            continue
        row = row_derive(
            totals[key], attribution=attribution, spend=spend_for(campaign=key, start=start, end=end)
        )
        row["name"] = names.get(key, f"{key[0]} {key[1]} (deleted)")
        row["spark"] = {
            "labels": [bucket_label(d["bucket"], "day") for d in days.get(key, [])],
            "sent": [d["sent"] for d in days.get(key, [])],
            "conversions": [float(d[f"conv_{attribution}"]) for d in days.get(key, [])],
        }
        out.append(row)
    return out


def bucket_label(value: datetime | None, bucket: str) -> str:
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d") if bucket == "day" else value.strftime("%Y-%m-%d %H:00")


def report_for(*, kind: str, cid: int, params: dict[str, Any]) -> dict[str, Any]:
    report = campaign_report(
        campaign=(kind, cid),
        start=params["start"],
        end=params["end"],
        tz=params["tz"],
        bucket=params["bucket"],
        attribution=params["attribution"],
        ab_metric=params["metric"],
        level=params["level"],
    )
    templates = dict(Template.objects.values_list("pk", "slug"))
    for row in report["tables"]["template"]:
        row["template"] = templates.get(
            row["template_id"], "(none)" if not row["template_id"] else f"#{row['template_id']}"
        )
    for row in report["series"]:
        row["label"] = bucket_label(row["bucket"], params["bucket"])
    return report


# Columns of every table (CSV and HTML share them).
TABLE_COLUMNS = [
    ("recipients", "Recipients"),
    ("targeted", "Messages"),
    ("not_sent", "Not sent"),
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("bounced", "Bounced"),
    ("failed", "Failed"),
    ("opens_unique", "Unique opens"),
    ("opens_total", "Opens"),
    ("open_rate", "Open rate"),
    ("clicks_unique", "Unique clicks"),
    ("clicks_total", "Clicks"),
    ("click_rate", "Click rate"),
    ("click_to_open", "Click-to-open"),
    ("unsubscribes", "Unsubscribes"),
    ("spam_reports", "Spam reports"),
    ("conversions", "Conversions"),
    ("conversion_rate", "Conversion rate"),
    ("revenue", "Revenue"),
    ("revenue_per_recipient", "Revenue / recipient"),
    ("cost", "Cost"),
    ("roas", "ROAS"),
    ("roi", "ROI"),
]
RATES = {"open_rate", "click_rate", "click_to_open", "conversion_rate"}
# Money in the workspace currency (converted at each day's rate); the row's `currency` names it.
MONEY_KEYS = {"revenue", "revenue_per_recipient", "cost"}
# The columns a page shows at once (within a 1,400 px window); the rest open under "All figures".
KEY_COLUMNS = [
    (k, label)
    for k, label in TABLE_COLUMNS
    if k
    in (
        "recipients",
        "sent",
        "delivered",
        "open_rate",
        "click_rate",
        "conversions",
        "conversion_rate",
        "revenue",
        "cost",
        "roas",
    )
]
ORIGINAL_COLUMNS = [
    ("revenue_by_currency", "Revenue in original currencies"),
    ("cost_by_currency", "Cost in original currencies"),
    ("missing_rates", "Not converted (missing rates)"),
]


def cell(key: str, value: Any) -> str:
    """A figure as people read it (tables and CSV)."""
    if value is None:
        return ""
    if isinstance(value, dict):  # {currency: amount}, never added together
        return "; ".join(f"{code} {amount:.2f}" for code, amount in value.items())
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if key in RATES:
        return f"{value * 100:.2f}%"
    if key == "conversions" and isinstance(value, float) and value.is_integer():
        return str(int(value))  # linear credit that came out whole
    if key in ("roas", "roi"):
        return f"{value:.2f}"
    if isinstance(value, Decimal | float):
        return f"{value:.2f}"
    return str(value)
