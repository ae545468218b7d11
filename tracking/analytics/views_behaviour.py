"""Behaviour pages inside the admin's look: funnels, retention, search keywords, slots, affinity and new
products, each with a CSV of every table and saved analyses. Thin: the behaviour modules do the work."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_POST

from tracking.analytics.behaviour import affinity, forms, funnels, newproducts, retention, search, slots
from tracking.analytics.behaviour.common import AnalysisInvalid
from tracking.analytics.behaviour.conditions import OPS
from tracking.analytics.models import AnalysisKind, SavedAnalysis, SpecEvent

LOGIN = reverse_lazy("admin:login")
VIEW_PERM = "analytics.view_behaviour"


def behaviour_access(view: Callable) -> Callable:
    return login_required(permission_required(VIEW_PERM, raise_exception=True)(view), login_url=LOGIN)


@dataclass(frozen=True)
class Page:
    kind: str
    title: str
    template: str
    default: Callable[[], dict[str, Any]]
    run: Callable[[dict[str, Any]], dict[str, Any]]


def _run_funnel(raw: dict[str, Any]) -> dict[str, Any]:
    return funnels.funnel_compute(definition=funnels.funnel_parse(raw))


def _run_retention(raw: dict[str, Any]) -> dict[str, Any]:
    return retention.retention_compute(definition=retention.retention_parse(raw))


PAGES = {
    "funnel": Page("funnel", "Funnel", "funnel.html", forms.funnel_default, _run_funnel),
    "retention": Page("retention", "Retention", "retention.html", forms.retention_default, _run_retention),
    "search": Page(
        "search", "Site search keywords", "search.html", search.search_default, search.search_report
    ),
    "slots": Page("slots", "Slots and promotions", "slots.html", slots.slots_default, slots.slots_report),
    "affinity": Page(
        "affinity", "Product affinity", "affinity.html", affinity.affinity_default, affinity.affinity_report
    ),
    "new_products": Page(
        "new_products",
        "New products",
        "new_products.html",
        newproducts.new_products_default,
        newproducts.new_products_report,
    ),
}


def _csv(name: str, header: list[str], rows: list[list[Any]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response


def tables_of(kind: str, result: dict[str, Any]) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """Every table of a result as (header, rows): what the CSV links export."""
    if kind == "funnel":
        step_cols = [
            "step",
            "event",
            "count",
            "conversion_from_previous",
            "conversion_from_first",
            "dropped",
            "median_seconds_from_previous",
        ]
        out = {
            "steps": (step_cols, [[s[c] for c in step_cols] for s in result["steps"]]),
            "daily": (
                ["day", "entered", "converted", "rate"],
                [[d["day"], d["entered"], d["converted"], d["rate"]] for d in result["daily"]],
            ),
            "time_to_convert": (
                ["bucket", "profiles"],
                [[b["label"], b["count"]] for b in result["time_to_convert"]["buckets"]],
            ),
        }
        if result["breakdown"]:
            dims = [
                d["kind"] + (f":{d['key']}" if "key" in d else "") for d in result["breakdown_dimensions"]
            ]
            n = len(result["steps"])
            out["breakdown"] = (
                [*dims, *[f"step {k}" for k in range(1, n + 1)], "conversion"],
                [
                    [*g["values"], *[s["count"] for s in g["steps"]], g["steps"][-1]["conversion_from_first"]]
                    for g in result["breakdown"]
                ],
            )
        if "compare" in result:
            out["compare"] = (step_cols, [[s.get(c) for c in step_cols] for s in result["compare"]["steps"]])
        return out
    if kind == "retention":
        dims = [d["kind"] + (f":{d['key']}" if "key" in d else "") for d in result["breakdown_dimensions"]]
        header = ["cohort", *dims, "size", *[f"period {k}" for k in range(result["periods"])]]
        rows = [
            [c["period_start"], *c["values"], c["size"], *[x["count"] for x in c["cells"]]]
            for c in result["cohorts"]
        ]
        return {
            "cohorts": (header, rows),
            "curve": (["period", "rate"], [[c["k"], c["rate"]] for c in result["curve"]]),
        }
    return {name: (t["columns"], t["rows"]) for name, t in result["tables"].items()}


def _page(request: HttpRequest, kind: str) -> HttpResponse:
    page = PAGES[kind]
    raw = forms.definition_from_query(kind, request.GET)
    if raw is None:
        raw = page.default()
    error: AnalysisInvalid | None = None
    result = None
    if isinstance(raw, dict) and "_error" in raw:
        error = AnalysisInvalid([("definition", raw["_error"])])
        raw = page.default()
    else:
        try:
            result = page.run(raw)
        except AnalysisInvalid as exc:
            error = exc
    export = request.GET.get("export")
    if export and result is not None:
        tables = tables_of(kind, result)
        if export not in tables:
            raise Http404(f"No table {export!r}")
        header, rows = tables[export]
        return _csv(f"{kind}-{export}", header, rows)
    context = {
        **admin.site.each_context(request),
        "title": page.title,
        "kind": kind,
        "raw": raw,
        "raw_json": json.dumps(raw),
        "result": result,
        "errors": error.errors if error else [],
        "workspace_zone": settings.TIME_ZONE,
        "workspace_currency": settings.WORKSPACE_CURRENCY,
        "saved": SavedAnalysis.objects.filter(kind=kind).order_by("name")[:50],
        "can_save": request.user.has_perm("analytics.add_savedanalysis"),
        # The audience builder is an upper floor's page: linked by URL, offered only to who may add.
        "can_make_audience": request.user.has_perm("audiences.add_audience"),
        "pages": [(p.kind, p.title) for p in PAGES.values()],
        "charts": _charts(kind, result) if result else {},
        "ops": OPS,
        "spec_events": [e.value for e in SpecEvent],
    }
    if kind == "funnel":
        context["form"] = forms.funnel_form(raw)
    elif kind == "retention":
        context["form"] = forms.retention_form(raw)
    return render(request, f"analytics/behaviour/{page.template}", context, status=400 if error else 200)


def _charts(kind: str, result: dict[str, Any]) -> dict[str, Any]:
    if kind == "funnel":
        charts: dict[str, Any] = {
            "funnel": {
                "labels": [f"{s['step']}. {s['event']}" for s in result["steps"]],
                "values": [s["count"] for s in result["steps"]],
                "compare": [s["count"] for s in result["compare"]["steps"]] if "compare" in result else None,
            },
            "daily": {
                "labels": [d["day"] for d in result["daily"]],
                "entered": [d["entered"] for d in result["daily"]],
                "converted": [d["converted"] for d in result["daily"]],
            },
            "ttc": {
                "labels": [b["label"] for b in result["time_to_convert"]["buckets"]],
                "values": [b["count"] for b in result["time_to_convert"]["buckets"]],
            },
        }
        return charts
    if kind == "retention":
        return {
            "curve": {
                "labels": [f"{result['period']} {c['k']}" for c in result["curve"]],
                "values": [c["rate"] for c in result["curve"]],
            }
        }
    return result.get("charts", {})


@behaviour_access
def index_view(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(reverse("analytics:behaviour-funnel"))


def _view(kind: str) -> Callable:
    @behaviour_access
    def view(request: HttpRequest) -> HttpResponse:
        return _page(request, kind)

    view.__name__ = f"{kind}_view"
    return view


funnel_view = _view("funnel")
retention_view = _view("retention")
search_view = _view("search")
slots_view = _view("slots")
affinity_view = _view("affinity")
new_products_view = _view("new_products")


@require_POST
@login_required(login_url=LOGIN)
@permission_required("analytics.add_savedanalysis", raise_exception=True)
def save_view(request: HttpRequest) -> HttpResponse:
    kind = request.POST.get("kind", "")
    if kind not in AnalysisKind.values:
        raise Http404("No such analysis kind")
    url = reverse(f"analytics:behaviour-{kind.replace('_', '-')}")
    name = request.POST.get("name", "").strip()[:200]
    try:
        definition = json.loads(request.POST.get("definition", ""))
        PAGES[kind].run(definition)  # only definitions that run are saved
    except (ValueError, AnalysisInvalid) as exc:
        messages.error(request, f"Not saved: {exc}")
        return HttpResponseRedirect(url)
    if not name:
        messages.error(request, "Not saved: give the analysis a name.")
        return HttpResponseRedirect(url + "?" + urlencode({"definition": json.dumps(definition)}))
    try:
        saved, created = SavedAnalysis.objects.update_or_create(
            kind=kind, name=name, defaults={"definition": definition, "created_by": request.user}
        )
    except IntegrityError:  # pragma: no cover - a concurrent save of the same name
        messages.error(request, "Not saved: that name was just taken.")
        return HttpResponseRedirect(url)
    messages.success(request, f"Saved “{name}”." if created else f"Updated “{name}”.")
    return HttpResponseRedirect(reverse("analytics:behaviour-saved", args=[saved.pk]))


@behaviour_access
def saved_view(request: HttpRequest, pk: int) -> HttpResponse:
    saved = get_object_or_404(SavedAnalysis, pk=pk)
    url = reverse(f"analytics:behaviour-{saved.kind.replace('_', '-')}")
    return HttpResponseRedirect(url + "?" + urlencode({"definition": json.dumps(saved.definition)}))
