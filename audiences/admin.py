"""Django admin for audiences, for operators: a structured rule editor with live validation and
preview, membership history as a chart, members export, refresh now and static CSV uploads."""

from __future__ import annotations

import csv
import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from audiences import selectors
from audiences.models import (
    Audience,
    AudienceKind,
    AudienceMembership,
    CatalogueEntry,
    ComputedTag,
    StaticUpload,
)
from audiences.rules import FORMS, OPS, RuleInvalid, validate_rule
from audiences.services.audiences import audience_create, audience_preview, audience_update
from audiences.services.membership import audience_refresh
from audiences.services.static import ID_KINDS, UploadError, audience_static_upload
from tracking.models import Channel, Profile
from tracking.roles import can_view_personal_data
from tracking.selectors import profiles_search


class RuleEditorWidget(forms.Textarea):
    """The rule's JSON, edited through a tree of selects and inputs (audiences/rule_editor.js)."""

    template_name = "audiences/rule_editor_widget.html"

    class Media:
        js = ("audiences/rule_editor.js",)
        css = {"all": ("audiences/rule_editor.css",)}

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(
            attrs={"rows": 16, "cols": 60, "class": "vLargeTextField rule-json", **(attrs or {})}
        )

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"]["vocabulary"] = json.dumps(
            {
                "forms": list(FORMS),
                "ops": list(OPS),
                "channels": list(Channel.values),
                "events": list(
                    CatalogueEntry.objects.filter(kind="event")
                    .order_by("name")
                    .values_list("name", flat=True)[:500]
                ),
                "traits": list(
                    CatalogueEntry.objects.filter(kind="trait")
                    .order_by("name")
                    .values_list("name", flat=True)[:500]
                ),
                "audiences": list(Audience.objects.order_by("slug").values_list("slug", flat=True)),
            }
        )
        return context

    def format_value(self, value: Any) -> str:
        # forms.JSONField hands over its JSON text; a new audience's empty rule arrives as "null".
        if isinstance(value, str):
            return "{}" if value.strip() in ("", "null") else value
        return json.dumps(value or {}, indent=2)


class AudienceForm(forms.ModelForm):
    rule = forms.JSONField(
        required=False,
        widget=RuleEditorWidget,
        help_text="Build the rule with the editor; the JSON beside it follows.",
    )

    class Meta:
        model = Audience
        fields = ("name", "slug", "description", "kind", "rule", "refresh_every_minutes")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("kind") == AudienceKind.RULE and "rule" in data:
            report = validate_rule(data.get("rule") or {}, audience_slug=data.get("slug"))
            for issue in report.errors:
                self.add_error("rule", str(issue))
            self.rule_warnings = [str(w) for w in report.warnings]
        return data


class StaticUploadForm(forms.Form):
    file = forms.FileField(help_text="CSV with one id per line, or a header row and a column name below.")
    id_kind = forms.ChoiceField(choices=[(k, k.replace("_", " ")) for k in ID_KINDS])
    column = forms.CharField(
        required=False, help_text="Column holding the ids, when the file has a header row."
    )
    replace = forms.BooleanField(
        required=False, help_text="Replace the current members instead of adding to them."
    )


@admin.register(Audience)
class AudienceAdmin(admin.ModelAdmin):
    form = AudienceForm
    list_display = ("name", "slug", "kind", "member_count", "last_refreshed_at", "refresh_every_minutes")
    list_filter = ("kind",)
    search_fields = ("name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("member_count", "last_refreshed_at", "last_refresh_ms", "next_refresh_at", "links")
    actions = ("refresh_now", "export_members")
    change_form_template = "admin/audiences/audience/change_form.html"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Members' emails are personal data: without that permission, the tools offer no export.
        fields = super().get_readonly_fields(request, obj)
        if can_view_personal_data(request.user):
            return fields
        return tuple("links_without_export" if f == "links" else f for f in fields)

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        if not can_view_personal_data(request.user):
            actions.pop("export_members", None)
        return actions

    def links(self, obj: Audience, *, export: bool = True) -> str:
        if not obj.pk:
            return "-"
        parts = [format_html('<a href="{}">Membership history</a>', "#membership-history")]
        if export:
            parts.insert(
                0,
                format_html(
                    '<a href="{}">Export members (CSV)</a>',
                    reverse("admin:audiences_audience_export", args=[obj.pk]),
                ),
            )
        if obj.kind == AudienceKind.STATIC:
            parts.append(
                format_html(
                    '<a href="{}">Upload a CSV</a>', reverse("admin:audiences_audience_upload", args=[obj.pk])
                )
            )
        return format_html(" · ".join(["{}"] * len(parts)), *parts)

    links.short_description = "Tools"  # type: ignore[attr-defined]

    @admin.display(description="Tools")
    def links_without_export(self, obj: Audience) -> str:
        return self.links(obj, export=False)

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path("preview/", wrap(self.preview_view), name="audiences_audience_preview"),
            path("<int:pk>/export/", wrap(self.export_view), name="audiences_audience_export"),
            path("<int:pk>/upload/", wrap(self.upload_view), name="audiences_audience_upload"),
            *super().get_urls(),
        ]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        # Pages below (e.g. a funnel's "make an audience of those who dropped here") link to
        # add/?rule=<JSON>: parse it, or the JSON field would show it as one quoted string.
        initial = super().get_changeform_initial_data(request)
        if isinstance(initial.get("rule"), str):
            try:
                initial["rule"] = json.loads(initial["rule"])
            except ValueError:
                initial.pop("rule")
        return initial

    def save_model(self, request: HttpRequest, obj: Audience, form: AudienceForm, change: bool) -> None:
        fields = {f: form.cleaned_data[f] for f in AudienceForm.Meta.fields if f in form.cleaned_data}
        fields["rule"] = fields.get("rule") or {}
        try:
            if change:
                audience_update(audience=obj, **{f: v for f, v in fields.items() if f in form.changed_data})
            else:
                saved = audience_create(**fields)
                obj.pk = saved.pk
        except RuleInvalid as exc:  # validated in the form; this catches a race with another edit
            messages.error(request, str(exc))
            return
        for warning in getattr(form, "rule_warnings", []):
            messages.warning(request, warning)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        audience = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if audience is not None:
            history = selectors.membership_history(audience=audience)
            extra["history"] = history
            extra["history_svg"] = history_svg(history)
            extra["uploads"] = audience.uploads.all()[:5]
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def preview_view(self, request: HttpRequest) -> JsonResponse:
        """POST {rule, slug?} → count, sample, reachable per channel; or errors by path (400)."""
        if request.method != "POST" or not self.has_view_permission(request):
            return JsonResponse({"detail": "POST a rule"}, status=405)
        try:
            payload = json.loads(request.body or b"{}")
        except ValueError:
            return JsonResponse({"errors": [{"path": "rule", "message": "not valid JSON"}]}, status=400)
        try:
            preview = audience_preview(rule=payload.get("rule"), slug=payload.get("slug") or None)
        except RuleInvalid as exc:
            return JsonResponse(exc.report.as_dict(), status=400)
        shown = can_view_personal_data(request.user)
        return JsonResponse(
            {
                "ok": True,
                "count": preview.count,
                "sample": preview.sample if shown else [],
                "sample_hidden": not shown,
                "reachable": preview.reachable,
                "warnings": [w.as_dict() for w in preview.report.warnings],
            }
        )

    def export_view(self, request: HttpRequest, pk: int) -> StreamingHttpResponse:
        if not can_view_personal_data(request.user):
            raise PermissionDenied("Exporting members needs the personal data permission.")
        audience = get_object_or_404(Audience, pk=pk)
        return members_csv_response(audience)

    def upload_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        audience = get_object_or_404(Audience, pk=pk)
        if not self.has_change_permission(request, audience):
            return HttpResponse(status=403)
        form = StaticUploadForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            try:
                report = audience_static_upload(
                    audience=audience,
                    file=form.cleaned_data["file"].read(),
                    file_name=form.cleaned_data["file"].name,
                    id_kind=form.cleaned_data["id_kind"],
                    column=form.cleaned_data["column"] or None,
                    replace=form.cleaned_data["replace"],
                    user=request.user,
                )
            except UploadError as exc:
                form.add_error("file", str(exc))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "audience": audience,
            "form": form,
            "report": report,
            "title": f"Upload members into {audience.name}",
        }
        return TemplateResponse(request, "admin/audiences/audience/upload.html", context)

    @admin.action(description="Refresh membership now")
    def refresh_now(self, request: HttpRequest, queryset: QuerySet[Audience]) -> None:
        for audience in queryset.filter(kind=AudienceKind.RULE):
            result = audience_refresh(audience_id=audience.pk)
            self.message_user(
                request,
                f"{audience.name}: {len(result.entered)} entered, {len(result.exited)} exited ({result.ms} ms).",
            )

    @admin.action(description="Export members as CSV")
    def export_members(self, request: HttpRequest, queryset: QuerySet[Audience]) -> HttpResponse:
        if queryset.count() != 1:
            self.message_user(request, "Choose one audience to export.", level=messages.WARNING)
            return redirect(request.get_full_path())
        return members_csv_response(queryset.get())


class _Echo:
    def write(self, value: str) -> str:
        return value


def members_csv_response(audience: Audience) -> StreamingHttpResponse:
    """Current members as CSV, streamed row by row so a large audience never sits in memory."""
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(["profile_id", "email", "country", "entered_at"])
        for m in selectors.audience_members(audience=audience).iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    m.profile_id,
                    (m.profile.traits or {}).get("email", ""),
                    m.profile.country,
                    m.entered_at.isoformat(),
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="audience-{audience.slug}-members.csv"'
    return response


def history_svg(history: list[dict[str, Any]], *, width: int = 640, height: int = 160) -> str:
    """A small line chart of members per day, drawn on the server (no chart library needed)."""
    if not history:
        return ""
    pad = 30
    top = max(max(h["members"] for h in history), 1)
    step = (width - 2 * pad) / max(len(history) - 1, 1)

    def y(v: int) -> float:
        return height - pad - (height - 2 * pad) * v / top

    points = " ".join(f"{pad + i * step:.1f},{y(h['members']):.1f}" for i, h in enumerate(history))
    bars = "".join(
        f'<rect x="{pad + i * step - 2:.1f}" y="{y(h["entered"]):.1f}" width="4" height="{height - pad - y(h["entered"]):.1f}" '
        f'fill="#79aec8"><title>{h["day"]}: +{h["entered"]} / -{h["exited"]}</title></rect>'
        for i, h in enumerate(history)
    )
    labels = (
        f'<text x="{pad}" y="{height - 8}" font-size="10">{history[0]["day"]}</text>'
        f'<text x="{width - pad}" y="{height - 8}" font-size="10" text-anchor="end">{history[-1]["day"]}</text>'
        f'<text x="4" y="{pad - 8}" font-size="10">{top} members</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="Members per day over the last {len(history)} days">'
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#ccc"/>'
        f'{bars}<polyline fill="none" stroke="#417690" stroke-width="2" points="{points}"/>{labels}</svg>'
    )


class MembershipStatusFilter(admin.SimpleListFilter):
    """Current stays by default: an exited row is history, not a member (choose "Exited" or "All")."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("exited", "Exited"), ("all", "All, with history")]

    def choices(self, changelist: Any):
        value = self.value() or "current"
        yield {
            "selected": value == "current",
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Current members",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value == "all":
            return queryset
        if value == "exited":
            return queryset.filter(exited_at__isnull=False)
        return queryset.filter(exited_at__isnull=True)


@admin.register(AudienceMembership)
class AudienceMembershipAdmin(admin.ModelAdmin):
    list_display = ("audience", "profile", "entered_at", "exited_at")
    list_filter = (MembershipStatusFilter, "audience")
    raw_id_fields = ("profile",)
    list_select_related = ("audience", "profile")
    show_full_result_count = False
    search_fields = ("audience__slug",)
    search_help_text = "An audience's slug or name, or part of a person's name, email, phone or user id."

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[AudienceMembership], search_term: str
    ) -> tuple[QuerySet[AudienceMembership], bool]:
        term = " ".join(search_term.split())
        if not term:
            return queryset, False
        people = Profile.objects.filter(profiles_search(term=term)).values_list("pk", flat=True)[:500]
        matches = Q(audience__slug__iexact=term) | Q(audience__name__icontains=term)
        return queryset.filter(matches | Q(profile_id__in=list(people))), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ComputedTag)
class ComputedTagAdmin(admin.ModelAdmin):
    list_display = ("name", "profile", "value", "computed_at")
    list_filter = ("family",)
    search_fields = ("name",)
    raw_id_fields = ("profile",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(StaticUpload)
class StaticUploadAdmin(admin.ModelAdmin):
    list_display = ("audience", "file_name", "id_kind", "matched", "unmatched", "created_at", "created_by")
    readonly_fields = [f.name for f in StaticUpload._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
