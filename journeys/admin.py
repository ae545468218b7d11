"""Admin for journey designers: edit a journey (structured editor with the JSON beside it), see it drawn
with live counts per stage, validation errors inline, publish / pause / resume / archive; runs with their
stage history (filter by profile); broadcasts with variants and results."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from journeys.canvas import canvas_pickers, layout_clean
from journeys.definition import DefinitionInvalid, definition_validate, stages_by_key
from journeys.diagram import GraphvizMissing, journey_svg
from journeys.models import Broadcast, BroadcastVariant, Journey, JourneyStatus, Run, RunStep
from journeys.selectors import active_runs_by_stage, journey_counts, stage_counts
from journeys.services.broadcasts import broadcast_results, broadcast_schedule, broadcast_send_now
from journeys.services.versions import (
    JourneyStateError,
    VersionFrozen,
    draft_create,
    journey_archive,
    journey_create,
    journey_draft,
    journey_pause,
    journey_resume,
    version_publish,
    version_update,
    version_validate,
)
from tracking.models import Channel

STARTER = {
    "slug": "my-journey",
    "name": "My journey",
    "entry": {"event": "Signed Up"},
    "reentry": "never",
    "stages": [
        {"key": "welcome", "actions": [], "transitions": [{"to": "done", "after": {"days": 1}}]},
        {"key": "done", "exit": True},
    ],
}


def _latest_version(journey: Journey):
    return journey.versions.order_by("-number").first()


class JourneyDesignForm(forms.ModelForm):
    definition = forms.JSONField(
        widget=forms.Textarea(attrs={"rows": 30, "cols": 90, "class": "vLargeTextField journey-json"}),
        help_text="The journey definition (see docs/journeys.md). Saving stores a draft; publishing freezes it.",
    )

    # Node positions on the canvas, saved with the draft (never part of the definition).
    layout = forms.JSONField(required=False, widget=forms.HiddenInput(attrs={"class": "journey-layout"}))

    class Meta:
        model = Journey
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        latest = _latest_version(self.instance) if self.instance.pk else None
        self.fields["definition"].initial = latest.definition if latest else STARTER
        self.fields["layout"].initial = (latest.layout if latest else None) or {"nodes": {}}

    def clean_layout(self):
        return layout_clean(self.cleaned_data.get("layout"))

    def clean_definition(self):
        value = self.cleaned_data["definition"]
        if not isinstance(value, dict):
            raise ValidationError("The definition must be a JSON object.")
        if not self.instance.pk and Journey.objects.filter(slug=value.get("slug")).exists():
            raise ValidationError(f"A journey with slug {value.get('slug')!r} exists.")
        if self.instance.pk and value.get("slug") != self.instance.slug:
            raise ValidationError(f"The slug of an existing journey stays {self.instance.slug!r}.")
        return value


@admin.register(Journey)
class JourneyAdmin(admin.ModelAdmin):
    form = JourneyDesignForm
    change_form_template = "admin/journeys/journey/change_form.html"
    list_display = ["name", "slug", "status", "live", "active_runs", "conversions"]
    list_filter = ["status"]
    search_fields = ["name", "slug"]
    fieldsets = [(None, {"fields": ["definition", "layout"]})]

    @admin.display(description="live version")
    def live(self, obj: Journey) -> str:
        return f"v{obj.live_version.number}" if obj.live_version_id else "—"

    @admin.display(description="active runs")
    def active_runs(self, obj: Journey) -> int:
        return journey_counts(journey=obj)["active"]

    @admin.display(description="conversions")
    def conversions(self, obj: Journey) -> int:
        return journey_counts(journey=obj)["converted"]

    def save_model(self, request, obj, form, change):
        definition = form.cleaned_data["definition"]
        layout = form.cleaned_data.get("layout")
        if not change:
            created = journey_create(definition=definition, layout=layout)
            obj.pk, obj.slug, obj.name = created.pk, created.slug, created.name
            return
        draft = journey_draft(journey=obj)
        try:
            if draft is None:
                draft_create(journey=obj, definition=definition, layout=layout)
            else:
                version_update(version=draft, definition=definition, layout=layout)
        except VersionFrozen as exc:  # pragma: no cover - drafts are never frozen
            messages.error(request, str(exc))

    def get_urls(self):
        own = [
            path(
                "canvas/validate/",
                self.admin_site.admin_view(self.validate_view),
                name="journeys_journey_validate",
            ),
            path(
                "<int:pk>/diagram.svg",
                self.admin_site.admin_view(self.diagram_view),
                name="journeys_journey_diagram",
            ),
            path(
                "<int:pk>/publish/",
                self.admin_site.admin_view(self.publish_view),
                name="journeys_journey_publish",
            ),
            path(
                "<int:pk>/state/<str:to>/",
                self.admin_site.admin_view(self.state_view),
                name="journeys_journey_state",
            ),
        ]
        return own + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        journey = get_object_or_404(Journey, pk=object_id)
        latest = _latest_version(journey)
        report = version_validate(version=latest) if latest else None
        context = {
            "journey": journey,
            "version": latest,
            "report": report,
            "counts": journey_counts(journey=journey),
            # Live counts are for what runs went through: only once something was published.
            "stage_counts": stage_counts(journey=journey) if journey.live_version_id else {},
            "has_draft": bool(latest and not latest.is_frozen),
            "runs_url": reverse("admin:journeys_run_changelist") + f"?journey__id__exact={journey.pk}",
        }
        return super().change_view(request, object_id, form_url, {**context, **(extra_context or {})})

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context.setdefault("stage_counts", {})
        latest = _latest_version(obj) if obj else None
        context["canvas"] = {
            # Read-only viewers have no JSON field to read it from.
            "definition": latest.definition if latest else STARTER,
            "layout": (latest.layout if latest else None) or {"nodes": {}},
            "pickers": canvas_pickers(),
            "counts": context["stage_counts"],
            "validate_url": reverse("admin:journeys_journey_validate"),
            "rule_preview_url": reverse("admin:audiences_audience_preview"),
            "journey_id": obj.pk if obj else None,
            "slug_locked": bool(obj),
            "can_edit": self.has_change_permission(request, obj) if obj else self.has_add_permission(request),
        }
        context["can_change"] = context["canvas"]["can_edit"]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def validate_view(self, request: HttpRequest) -> JsonResponse:
        """The definition validator for the canvas, as it edits: every error and warning by path."""
        if request.method != "POST":
            return JsonResponse({"detail": "POST a definition"}, status=405)
        if not self.has_view_permission(request):
            return JsonResponse({"detail": "You may not view journeys."}, status=403)
        try:
            payload = json.loads(request.body or b"{}")
        except ValueError as exc:
            return JsonResponse({"detail": f"body is not JSON: {exc}"}, status=400)
        if not isinstance(payload, dict):
            return JsonResponse({"detail": "body must be a JSON object"}, status=400)
        definition = payload.get("definition")
        report = definition_validate(definition)
        journey_id = payload.get("journey_id")
        if isinstance(definition, dict) and isinstance(journey_id, int):
            journey = Journey.objects.filter(pk=journey_id).first()
            if journey is not None and definition.get("slug") != journey.slug:
                report.error("slug", f"must stay {journey.slug!r}")
        elif isinstance(definition, dict) and Journey.objects.filter(slug=definition.get("slug")).exists():
            report.error("slug", f"a journey with slug {definition.get('slug')!r} exists")
        return JsonResponse(report.as_dict())

    def diagram_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        journey = get_object_or_404(Journey, pk=pk)
        latest = _latest_version(journey)
        try:
            svg = journey_svg(latest.definition if latest else {}, stage_counts(journey=journey))
        except GraphvizMissing as exc:
            return HttpResponse(str(exc), status=503, content_type="text/plain")
        return HttpResponse(svg, content_type="image/svg+xml")

    def publish_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """A form, not a prompt: the draft's validity and, for a later version, the stages where runs
        wait now, each with where its runs go (stay on their version, or a stage of the new one)."""
        journey = get_object_or_404(Journey, pk=pk)
        back = HttpResponseRedirect(reverse("admin:journeys_journey_change", args=[pk]))
        if not self.has_change_permission(request, journey):
            messages.error(request, "You may not publish journeys.")
            return back
        draft = journey_draft(journey=journey)
        if draft is None:
            messages.warning(request, "There is no draft to publish: save a change first.")
            return back
        waiting = active_runs_by_stage(journey=journey, exclude_version_id=draft.pk)
        new_keys = list(stages_by_key(draft.definition))
        if request.method == "POST":
            try:
                mapping = self._publish_mapping(request, waiting, new_keys)
                version_publish(version=draft, migrate=mapping or None)
            except DefinitionInvalid as exc:
                messages.error(request, f"Not published — {len(exc.report.errors)} error(s): {exc}")
                return back
            except ValueError as exc:
                messages.error(request, f"Not published — migration mapping: {exc}")
                return back
            moved = f"; runs in {', '.join(sorted(mapping))} move to it" if mapping else ""
            messages.success(request, f"Published version {draft.number}; new entries start on it{moved}.")
            return back
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Publish {journey.name} v{draft.number}",
            "journey": journey,
            "draft": draft,
            "first": not journey.versions.filter(published_at__isnull=False).exists(),
            "report": version_validate(version=draft),
            "waiting": [
                {**row, "same": row["stage_key"] if row["stage_key"] in new_keys else ""} for row in waiting
            ],
            "new_keys": new_keys,
        }
        return TemplateResponse(request, "admin/journeys/journey/publish.html", context)

    @staticmethod
    def _publish_mapping(request: HttpRequest, waiting: list[dict], new_keys: list[str]) -> dict[str, str]:
        """The form's choices ("map:<old stage>" = new stage, or empty to stay); the old JSON field too."""
        text = request.POST.get("migrate", "").strip()
        mapping = json.loads(text) if text else {}
        if not isinstance(mapping, dict):
            raise ValueError("the mapping must be a JSON object")
        for row in waiting:
            target = request.POST.get(f"map:{row['stage_key']}", "")
            if target:
                if target not in new_keys:
                    raise ValueError(f"{row['stage_key']} → {target}: no such stage in the new version")
                mapping[row["stage_key"]] = target
        return mapping

    def state_view(self, request: HttpRequest, pk: int, to: str) -> HttpResponse:
        journey = get_object_or_404(Journey, pk=pk)
        back = HttpResponseRedirect(reverse("admin:journeys_journey_change", args=[pk]))
        actions = {"pause": journey_pause, "resume": journey_resume, "archive": journey_archive}
        if request.method != "POST" or to not in actions or not self.has_change_permission(request, journey):
            return back
        try:
            actions[to](journey=journey)
        except JourneyStateError as exc:
            messages.error(request, str(exc))
            return back
        journey.refresh_from_db()
        messages.success(request, f"The journey is now {journey.get_status_display().lower()}.")
        return back


class RunStepInline(admin.TabularInline):
    model = RunStep
    fields = ["seq", "at", "from_stage", "stage_key", "reason", "detail", "worker"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    """Runs with their stage history. Filter by profile: ?profile__id__exact=<id>."""

    list_display = ["id", "journey", "profile_link", "status", "stage_key", "variant", "holdout", "entered_at",
                    "due_at", "converted_at"]  # fmt: skip
    list_filter = ["journey", "status", "holdout", "variant"]
    search_fields = ["=profile__id", "stage_key", "entry_key"]
    list_select_related = ["journey"]
    inlines = [RunStepInline]
    readonly_fields = [f.name for f in Run._meta.fields]
    date_hierarchy = "entered_at"

    @admin.display(description="profile")
    def profile_link(self, obj: Run) -> str:
        runs = reverse("admin:journeys_run_changelist") + f"?profile__id__exact={obj.profile_id}"
        return format_html(
            "<a href='{}' title='All journey runs of this profile'>{}</a>", runs, obj.profile_id
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _audience_choices() -> list[tuple[str, str]]:
    from audiences.models import Audience

    return [("", "---------")] + [
        (slug, f"{name} ({slug})")
        for slug, name in Audience.objects.order_by("name").values_list("slug", "name")
    ]


def _template_choices() -> list[tuple[str, str]]:
    from channels.models import Template

    return [("", "---------")] + [
        (slug, f"{name} ({slug}, {channel})")
        for slug, name, channel in Template.objects.order_by("name").values_list("slug", "name", "channel")
    ]


class BroadcastVariantForm(forms.ModelForm):
    # Choices, not free text: a template that does not exist cannot be saved.
    template_slug = forms.ChoiceField(label="Template", choices=_template_choices)

    class Meta:
        model = BroadcastVariant
        fields = ["key", "template_slug", "weight"]


class BroadcastForm(forms.ModelForm):
    audience_slug = forms.ChoiceField(label="Audience", choices=_audience_choices)

    class Meta:
        model = Broadcast
        fields = [
            "name", "audience_slug", "channel", "topic", "send_at", "local_time", "recurrence",
            "test_percent", "winner_metric", "winner_after_hours", "conversion_event",
        ]  # fmt: skip
        widgets = {"channel": forms.Select(choices=Channel.choices)}

    def clean(self) -> dict:
        data = super().clean()
        channel = data.get("channel")
        if channel and channel not in Channel.values:
            self.add_error("channel", f"no channel {channel!r}")
        return data


class BroadcastVariantInline(admin.TabularInline):
    model = BroadcastVariant
    form = BroadcastVariantForm
    extra = 2

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        base_clean = formset.clean

        def clean(fs) -> None:
            base_clean(fs)
            # Template channel must match the broadcast's channel.
            channel = fs.instance.channel
            from channels.models import Template

            slugs = [
                f.cleaned_data.get("template_slug")
                for f in fs.forms
                if f.cleaned_data and not f.cleaned_data.get("DELETE")
            ]
            if not slugs:
                raise ValidationError("Add at least one variant with a template.")
            wrong = (
                Template.objects.filter(slug__in=slugs)
                .exclude(channel=channel)
                .values_list("slug", "channel")
            )
            for slug, other in wrong:
                raise ValidationError(f"Template {slug!r} is for {other}, not {channel}.")

        formset.clean = clean
        return formset


@admin.register(Broadcast)
class BroadcastAdmin(admin.ModelAdmin):
    list_display = ["name", "audience_slug", "channel", "status", "send_at", "local_time", "recurrence",
                    "test_percent", "winner_variant"]  # fmt: skip
    list_filter = ["status", "channel"]
    inlines = [BroadcastVariantInline]
    readonly_fields = ["status", "winner_variant", "winner_due_at", "occurrence", "results"]
    actions = ["schedule"]
    form = BroadcastForm
    change_form_template = "admin/journeys/broadcast/change_form.html"

    def _after_save(self, request: HttpRequest, obj: Broadcast) -> HttpResponse | None:
        """The "Save and schedule" and "Save and send now" buttons: checked like the action is."""
        if not self.has_change_permission(request, obj):
            return None
        try:
            if "_send_now" in request.POST:
                broadcast_send_now(broadcast=obj)
                self.message_user(
                    request, f"{obj.name}: sending now to {obj.audience_slug}.", messages.SUCCESS
                )
            elif "_schedule" in request.POST:
                broadcast_schedule(broadcast=obj)
                self.message_user(
                    request, f"{obj.name}: scheduled for {obj.send_at:%Y-%m-%d %H:%M} UTC", messages.SUCCESS
                )
            else:
                return None
        except ValidationError as exc:
            errors = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.message_dict.items())
            self.message_user(
                request, f"{obj.name}: saved as a draft, not scheduled — {errors}", messages.ERROR
            )
        return HttpResponseRedirect(reverse("admin:journeys_broadcast_change", args=[obj.pk]))

    def response_add(self, request, obj, post_url_continue=None):
        return self._after_save(request, obj) or super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        return self._after_save(request, obj) or super().response_change(request, obj)

    @admin.action(description="Check and schedule the selected broadcasts")
    def schedule(self, request, queryset):
        for b in queryset:
            try:
                broadcast_schedule(broadcast=b)
                self.message_user(request, f"{b.name}: scheduled for {b.send_at:%Y-%m-%d %H:%M} UTC")
            except ValidationError as exc:
                errors = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.message_dict.items())
                self.message_user(request, f"{b.name}: not scheduled — {errors}", level=messages.ERROR)

    @admin.display(description="results of the latest send")
    def results(self, obj: Broadcast) -> str:
        if not obj.pk or not obj.occurrence:
            return "—"
        rows = broadcast_results(broadcast=obj, occurrence=obj.occurrence, phase="")
        return format_html(
            "<table><tr><th>variant</th><th>recipients</th><th>open rate</th><th>click rate</th>"
            "<th>conversion rate</th></tr>{}</table>",
            mark_safe("".join(  # noqa: S308 - every value below is escaped by format_html
                format_html("<tr><td>{}</td><td>{}</td><td>{:.1%}</td><td>{:.1%}</td><td>{:.1%}</td></tr>",
                            r.variant, r.recipients, r.rate("open"), r.rate("click"), r.rate("conversion"))
                for r in rows
            )),
        )  # fmt: skip


__all__ = ["JourneyAdmin", "RunAdmin", "BroadcastAdmin", "JourneyStatus"]
