"""Report pages (inside the admin's look) and their CSV exports. Thin: selectors do the work."""

from __future__ import annotations

import csv
from decimal import Decimal
from typing import Any

from babel import Locale, UnknownLocaleError
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils.translation.trans_real import parse_accept_lang_header

from journeys.reports.metrics import ReportError
from journeys.reports.selectors import (
    KEY_COLUMNS,
    ORIGINAL_COLUMNS,
    TABLE_COLUMNS,
    campaign_name,
    campaigns_overview,
    cell,
    params_parse,
    report_for,
)
from tracking.analytics.money import viewer_locale

LOGIN = reverse_lazy("admin:login")
OVERVIEW_COLUMNS = KEY_COLUMNS  # the overview shows the same columns a campaign's tables show at once
ALL_COLUMNS = TABLE_COLUMNS + ORIGINAL_COLUMNS
TABLES = {"stage": "stage_key", "variant": "variant", "channel": "channel", "template": "template"}


def reports_access(view):
    return login_required(
        permission_required("reports.view_reports", raise_exception=True)(view), login_url=LOGIN
    )


def viewer_money_locale(request: HttpRequest) -> Locale:
    """The viewer's locale for money (Babel), from the browser's Accept-Language; else the site's."""
    for language, _ in parse_accept_lang_header(request.headers.get("Accept-Language", "")):
        if language != "*":
            try:
                return Locale.parse(language.replace("-", "_"))
            except (ValueError, UnknownLocaleError):
                continue
    return viewer_locale()


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return {
        **admin.site.each_context(request),
        "money_locale": viewer_money_locale(request),
        "columns": KEY_COLUMNS,
        "all_columns": ALL_COLUMNS,
        "workspace_zone": settings.TIME_ZONE,
        "workspace_currency": settings.WORKSPACE_CURRENCY,
        **extra,
    }


def _csv(name: str, header: list[str], rows: list[list[Any]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response


def _bad(request: HttpRequest, exc: ReportError) -> HttpResponse:
    return render(
        request, "reports/error.html", _context(request, title="Report options", error=str(exc)), status=400
    )


@reports_access
def overview_view(request: HttpRequest) -> HttpResponse:
    try:
        params = params_parse(request.GET)
        campaigns = campaigns_overview(**params)
    except ReportError as exc:
        return _bad(request, exc)
    if request.GET.get("export") == "campaigns":
        header, values = _money_columns(campaigns)
        return _csv(
            "campaigns",
            ["kind", "id", "name", *header],
            [[c["campaign_kind"], c["campaign_id"], c["name"], *values(c)] for c in campaigns],
        )
    sparks = {f"spark-{c['campaign_kind']}-{c['campaign_id']}": c["spark"] for c in campaigns}
    return render(
        request,
        "reports/overview.html",
        _context(
            request,
            title="Campaign reports",
            campaigns=campaigns,
            params=params,
            sparks=sparks,
            columns=OVERVIEW_COLUMNS,
        ),
    )


@reports_access
def campaign_view(request: HttpRequest, kind: str, cid: int) -> HttpResponse:
    name = campaign_name(kind, cid)
    if name is None:
        raise Http404("No such campaign")
    try:
        params = params_parse(request.GET)
        report = report_for(kind=kind, cid=cid, params=params)
    except ReportError as exc:
        return _bad(request, exc)
    export = request.GET.get("export")
    if export:
        return _export(kind, cid, export, report)
    charts = {
        "funnel": {
            "labels": [s for s, _ in report["funnel"]],
            "values": [float(v) for _, v in report["funnel"]],
        },
        "volumes": {
            "labels": [s for s, _ in report["volumes"]],
            "values": [float(v) for _, v in report["volumes"]],
        },
        "series": {
            "labels": [r["label"] for r in report["series"]],
            "sent": [r["sent"] for r in report["series"]],
            "delivered": [r["delivered"] for r in report["series"]],
            "opens": [r["opens_unique"] for r in report["series"]],
            "clicks": [r["clicks_unique"] for r in report["series"]],
            "conversions": [float(r["conversions"]) for r in report["series"]],
        },
    }
    tables = [(g, TABLES[g], report["tables"][g]) for g in TABLES]
    return render(
        request,
        "reports/campaign.html",
        _context(
            request,
            title=f"{name} — report",
            name=name,
            kind=kind,
            cid=cid,
            params=params,
            report=report,
            charts=charts,
            tables=tables,
            ab=report["ab"].as_dict(),
        ),
    )


def _money_columns(rows: list[dict[str, Any]]) -> tuple[list[str], Any]:
    """Every figure, money in the workspace currency (named in its own column), then one column per
    original currency for revenue and cost (never added together), then the missing rates."""
    keys = [k for k, _ in TABLE_COLUMNS]
    codes = {
        kind: sorted({c for r in rows for c in r.get(f"{kind}_by_currency", {})})
        for kind in ("revenue", "cost")
    }
    header = [label for _, label in TABLE_COLUMNS] + ["Currency"]
    for kind, label in (("revenue", "Revenue"), ("cost", "Cost")):
        header += [f"{label} in {code} (original)" for code in codes[kind]]
    header.append("Not converted (missing rates)")

    def values(r: dict[str, Any]) -> list[Any]:
        out = [cell(k, r[k]) for k in keys] + [r["currency"]]
        for kind in ("revenue", "cost"):
            amounts = r.get(f"{kind}_by_currency", {})
            out += [cell("money", amounts.get(code, Decimal(0))) for code in codes[kind]]
        return [*out, cell("missing_rates", r.get("missing_rates", []))]

    return header, values


def _export(kind: str, cid: int, export: str, report: dict[str, Any]) -> HttpResponse:
    prefix = f"{kind}-{cid}-"
    if export in TABLES:
        col = TABLES[export]
        header, values = _money_columns(report["tables"][export])
        rows = [[r[col], *values(r)] for r in report["tables"][export]]
        return _csv(prefix + export, [export, *header], rows)
    if export == "series":
        header, values = _money_columns(report["series"])
        rows = [[r["label"], *values(r)] for r in report["series"]]
        return _csv(prefix + "series", ["bucket", *header], rows)
    if export == "funnel":
        return _csv(
            prefix + "funnel",
            ["step", "people"],
            [[s, v] for s, v in report["funnel"]]
            + [["Converted (clicked or not)", report["people"]["converted_all"]]],
        )
    if export == "volumes":
        return _csv(prefix + "volumes", ["messages", "count"], [[s, v] for s, v in report["volumes"]])
    if export == "skips":
        return _csv(prefix + "skips", ["reason", "messages"], [[label, n] for label, n in report["skips"]])
    if export == "variants":
        ab = report["ab"].as_dict()
        return _csv(
            prefix + "variants",
            ["variant", "successes", "trials", "rate", "ci_low", "ci_high", "p_value", "winner"],
            [
                [
                    v["variant"],
                    v["successes"],
                    v["trials"],
                    v["rate"],
                    v["ci_low"],
                    v["ci_high"],
                    ab["p_value"],
                    ab["winner"],
                ]
                for v in ab["variants"]
            ],
        )
    raise Http404(f"No table {export!r}")
