"""Ad spend imports: daily impressions, clicks and cost per campaign, ad group/ad set and ad.

Reads the CSV exports of Google Ads (a report with the Day, Campaign, Ad group, Ad, Currency code,
Impr., Clicks, Cost columns; its title lines and "Total:" rows are skipped), Meta Ads Manager (a
daily breakdown: Day, Campaign name, Ad set name, Ad name, Impressions, Link clicks,
"Amount spent (EUR)" — the currency is in the header) and TikTok Ads Manager (Date, Campaign name,
Ad group name, Ad name, Impressions, Clicks (destination), Cost, Currency); any other CSV through a
column mapping; and rows given through the API. A file with any bad cell is refused whole, every
problem named by line and column; importing a platform's day again replaces that day.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from dateutil import parser as date_parser
from django.db import transaction

from tracking.analytics.acquisition.taxonomy import rules_load, touch_classify
from tracking.analytics.models import AdSpend, SpendImport, SpendPlatform
from tracking.analytics.money import currency_is_known

FIELDS = (
    "day",
    "campaign",
    "ad_group",
    "ad",
    "impressions",
    "clicks",
    "cost",
    "currency",
    "source",
    "medium",
)
REQUIRED = ("day", "campaign", "cost")
MAX_ERRORS = 50

# Our field -> the column names each platform's export uses (first found wins).
HEADERS: dict[str, dict[str, tuple[str, ...]]] = {
    SpendPlatform.GOOGLE: {
        "day": ("Day", "Date"),
        "campaign": ("Campaign", "Campaign name"),
        "ad_group": ("Ad group", "Ad group name"),
        "ad": ("Ad name", "Ad", "Ad ID"),
        "impressions": ("Impr.", "Impressions"),
        "clicks": ("Clicks",),
        "cost": ("Cost",),
        "currency": ("Currency code", "Currency"),
    },
    SpendPlatform.META: {
        "day": ("Day", "Reporting starts"),
        "campaign": ("Campaign name",),
        "ad_group": ("Ad set name",),
        "ad": ("Ad name",),
        "impressions": ("Impressions",),
        "clicks": ("Link clicks", "Clicks (all)"),
        "cost": ("Amount spent",),  # also "Amount spent (EUR)": see _columns
        "currency": ("Currency",),
    },
    SpendPlatform.TIKTOK: {
        "day": ("Date", "By Day", "Day"),
        "campaign": ("Campaign name",),
        "ad_group": ("Ad group name",),
        "ad": ("Ad name",),
        "impressions": ("Impressions", "Impression"),
        "clicks": ("Clicks (destination)", "Clicks (Destination)", "Clicks"),
        "cost": ("Cost", "Total cost"),
        "currency": ("Currency",),
    },
}
# The UTM source and medium the platform's links carry, which decide the rows' channel.
TAGS = {
    SpendPlatform.GOOGLE: ("google", "cpc"),
    SpendPlatform.META: ("facebook", "paid_social"),
    SpendPlatform.TIKTOK: ("tiktok", "paid_social"),
}
_AMOUNT_SPENT = re.compile(r"^Amount spent \(([A-Z]{3})\)$")


class SpendImportError(ValueError):
    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors[:5]))
        self.errors = errors


@dataclass
class SpendRow:
    line: int
    day: date
    campaign: str
    ad_group: str
    ad: str
    impressions: int
    clicks: int
    cost: Decimal
    currency: str
    source: str
    medium: str


@dataclass
class SpendResult:
    rows: int = 0
    days: list[str] = field(default_factory=list)
    replaced: int = 0
    import_id: int | None = None


def _number(text: str, column: str, *, whole: bool) -> Decimal:
    cleaned = text.strip().replace("\u00a0", "")
    if cleaned in ("", "--", "-"):
        return Decimal(0)
    # Exports write thousands separators ("1,234.56"); a lone comma with two digits is a decimal comma.
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", cleaned):
        cleaned = cleaned.replace(",", "")
    elif re.fullmatch(r"-?\d+,\d{1,2}", cleaned):
        cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"{column}: {text.strip()!r} is not a number")
    if not value.is_finite() or value < 0:
        raise ValueError(f"{column}: {text.strip()!r} must be zero or more")
    if whole and value != value.to_integral_value():
        raise ValueError(f"{column}: {text.strip()!r} is not a whole number")
    return value


def _day(text: str, column: str) -> date:
    text = text.strip()
    if not text:
        raise ValueError(f"{column}: missing")
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return date_parser.parse(text, dayfirst=False).date()
    except (ValueError, OverflowError):
        raise ValueError(f"{column}: {text!r} is not a date")


def _columns(platform: str, header: list[str], mapping: dict[str, str] | None) -> tuple[dict[str, int], str]:
    """Our field -> column index, and a currency named in the header (Meta's "Amount spent (EUR)")."""
    names = [h.strip() for h in header]
    found: dict[str, int] = {}
    header_currency = ""
    if mapping:
        for ours, theirs in mapping.items():
            if ours not in FIELDS:
                raise SpendImportError([f"mapping: {ours!r} is not one of {', '.join(FIELDS)}"])
            if theirs not in names:
                raise SpendImportError([f"mapping: column {theirs!r} (for {ours}) is not in the header"])
            found[ours] = names.index(theirs)
    else:
        for ours, options in HEADERS[platform].items():
            for option in options:
                if option in names:
                    found[ours] = names.index(option)
                    break
        if "cost" not in found and platform == SpendPlatform.META:
            for index, name in enumerate(names):
                match = _AMOUNT_SPENT.match(name)
                if match:
                    found["cost"], header_currency = index, match.group(1)
    return found, header_currency


def _header_index(rows: list[list[str]], platform: str, mapping: dict[str, str] | None) -> int:
    """Google's export starts with a report title and a date range before its header line."""
    wanted = set(mapping.values()) if mapping else {HEADERS[platform]["campaign"][0]}
    for index, row in enumerate(rows[:10]):
        if wanted & {cell.strip() for cell in row}:
            return index
    return 0


def spend_rows_read(
    *, text: str, platform: str, mapping: dict[str, str] | None = None, default_currency: str = ""
) -> list[SpendRow]:
    if platform not in SpendPlatform.values:
        raise SpendImportError([f"platform: {platform!r} is not one of {', '.join(SpendPlatform.values)}"])
    if platform == SpendPlatform.OTHER and not mapping:
        raise SpendImportError(['mapping: a generic CSV needs a column mapping, e.g. {"day": "Date", …}'])
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    if not rows:
        raise SpendImportError(["the file is empty"])
    start = _header_index(rows, platform, mapping)
    columns, header_currency = _columns(platform, rows[start], mapping)
    missing = [f for f in REQUIRED if f not in columns]
    if platform == SpendPlatform.OTHER and "source" not in columns:
        missing.append("source (the utm_source its links carry)")
    if missing:
        raise SpendImportError([f"line {start + 1}: no column for {', '.join(missing)}"])
    if "currency" not in columns and not header_currency and not default_currency:
        raise SpendImportError([f"line {start + 1}: no currency column; give a default currency"])
    source, medium = TAGS.get(platform, ("", ""))
    parsed: list[SpendRow] = []
    errors: list[str] = []
    for line, row in enumerate(rows[start + 1 :], start=start + 2):
        if not any(cell.strip() for cell in row) or row[0].strip().lower().startswith("total"):
            continue

        def cell(name: str, row: list[str] = row) -> str:
            index = columns.get(name)
            return row[index] if index is not None and index < len(row) else ""

        header = rows[start]
        try:
            currency = (cell("currency").strip().upper() or header_currency or default_currency).upper()
            if not currency_is_known(currency):
                raise ValueError(
                    f"{header[columns['currency']] if 'currency' in columns else 'currency'}: {currency!r} is not an ISO 4217 currency code"
                )
            campaign = cell("campaign").strip()
            if not campaign:
                raise ValueError(f"{header[columns['campaign']].strip()}: missing")
            parsed.append(
                SpendRow(
                    line=line,
                    day=_day(cell("day"), header[columns["day"]].strip()),
                    campaign=campaign[:200],
                    ad_group=cell("ad_group").strip()[:200],
                    ad=cell("ad").strip()[:200],
                    impressions=int(_number(cell("impressions"), "impressions", whole=True)),
                    clicks=int(_number(cell("clicks"), "clicks", whole=True)),
                    cost=_number(cell("cost"), header[columns["cost"]].strip(), whole=False),
                    currency=currency,
                    source=(cell("source").strip() or source)[:200],
                    medium=(cell("medium").strip() or medium)[:200],
                )
            )
        except ValueError as exc:
            errors.append(f"line {line}, column {exc}")
            if len(errors) >= MAX_ERRORS:
                errors.append(f"stopped after {MAX_ERRORS} errors")
                break
    if errors:
        raise SpendImportError(errors)
    if not parsed:
        raise SpendImportError(["the file holds no spend rows"])
    return parsed


@transaction.atomic
def spend_import(
    *, rows: Iterable[SpendRow], platform: str, file_name: str = "", user: str = ""
) -> SpendResult:
    """Store rows; every (platform, source, day) present replaces what was stored for it."""
    rows = list(rows)
    rules = rules_load()
    record = SpendImport.objects.create(platform=platform, file_name=file_name[:255], created_by=user[:150])
    replaced = 0
    keys = {(row.source, row.day) for row in rows}
    for source, day in keys:
        deleted, _ = AdSpend.objects.filter(platform=platform, source=source, day=day).delete()
        replaced += deleted
    objects = []
    for row in rows:
        values = {"source": row.source, "medium": row.medium, "campaign": row.campaign, "content": row.ad}
        objects.append(
            AdSpend(
                platform=platform,
                day=row.day,
                source=row.source,
                medium=row.medium,
                channel=touch_classify(rules, values),
                campaign=row.campaign,
                ad_group=row.ad_group,
                ad=row.ad,
                impressions=row.impressions,
                clicks=row.clicks,
                cost=row.cost,
                currency=row.currency,
                spend_import=record,
            )
        )
    AdSpend.objects.bulk_create(objects, batch_size=2000)
    days = sorted({row.day.isoformat() for row in rows})
    record.rows, record.days = len(objects), days
    record.save(update_fields=["rows", "days"])
    # The acquisition page's rollup holds spend per ad and day: refresh it once this import is stored.
    from django.db import transaction

    from tracking.analytics.acquisition.rollup import acquisition_rollup_spend_refresh

    transaction.on_commit(acquisition_rollup_spend_refresh)
    return SpendResult(rows=len(objects), days=days, replaced=replaced, import_id=record.pk)


def spend_rows_from_json(*, items: list[dict[str, Any]], platform: str) -> list[SpendRow]:
    """API rows: {day, campaign, ad_group?, ad?, impressions?, clicks?, cost, currency, source?, medium?};
    errors name the row index and field (rows[3].cost)."""
    source, medium = TAGS.get(platform, ("", ""))
    parsed, errors = [], []
    for index, item in enumerate(items):
        path = f"rows[{index}]"
        if not isinstance(item, dict):
            errors.append(f"{path}: must be an object")
            continue
        unknown = set(item) - set(FIELDS)
        if unknown:
            errors.append(f"{path}: unknown field(s) {', '.join(sorted(unknown))}")
            continue
        try:
            for name in (*REQUIRED, "currency"):
                if item.get(name) in (None, ""):
                    raise ValueError(f"{name}: missing")
            currency = str(item["currency"]).upper()
            if not currency_is_known(currency):
                raise ValueError(f"currency: {item['currency']!r} is not an ISO 4217 currency code")
            row_source = str(item.get("source") or source)
            if not row_source:
                raise ValueError("source: missing (the utm_source this platform's links carry)")
            parsed.append(
                SpendRow(
                    line=index,
                    day=_day(str(item["day"]), "day"),
                    campaign=str(item["campaign"])[:200],
                    ad_group=str(item.get("ad_group") or "")[:200],
                    ad=str(item.get("ad") or "")[:200],
                    impressions=int(_number(str(item.get("impressions") or 0), "impressions", whole=True)),
                    clicks=int(_number(str(item.get("clicks") or 0), "clicks", whole=True)),
                    cost=_number(str(item["cost"]), "cost", whole=False),
                    currency=currency,
                    source=row_source[:200],
                    medium=str(item.get("medium") or medium or "cpc")[:200],
                )
            )
        except ValueError as exc:
            errors.append(f"{path}.{exc}")
    if errors:
        raise SpendImportError(errors)
    if not parsed:
        raise SpendImportError(["rows: empty"])
    return parsed
