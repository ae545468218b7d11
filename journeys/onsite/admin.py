"""Admin for on-site messages: journey designers edit (content, trigger, targeting, frequency, arms),
marketers read (the same pages without buttons); results per arm; a signed preview link; pause/resume."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from journeys.onsite.models import Message, Status, Variant
from journeys.onsite.selectors import message_results
from journeys.onsite.services import message_validate, messages_cache_clear
from journeys.onsite.views import preview_token
from tracking.models import Source


class MessageForm(forms.ModelForm):
    class Meta:
        model = Message
        fields = [f.name for f in Message._meta.fields if f.editable and not f.primary_key]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        candidate = Message(**{k: v for k, v in data.items() if k in {f.name for f in Message._meta.fields}})
        try:
            message_validate(message=candidate)
        except ValidationError as exc:
            for name, problems in exc.message_dict.items():
                for problem in problems:
                    self.add_error(name if name in self.fields else None, problem)
        return data


class VariantForm(forms.ModelForm):
    class Meta:
        model = Variant
        fields = [f.name for f in Variant._meta.fields if f.editable and not f.primary_key]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        parent = self.parent_message  # None while the message itself is being created
        if self.errors or parent is None or not data or data.get("DELETE"):
            return data
        candidate = Variant(
            message=parent,
            **{
                k: v
                for k, v in data.items()
                if k in {f.name for f in Variant._meta.fields} and k != "message"
            },
        )
        try:
            message_validate(message=parent, variants=[candidate])
        except ValidationError as exc:
            for name, problems in exc.message_dict.items():
                if name in self.fields:
                    for problem in problems:
                        self.add_error(name, problem.split(": ", 1)[-1])
        return data

    parent_message: Message | None = None


class VariantInline(admin.StackedInline):
    model = Variant
    form = VariantForm
    extra = 0
    min_num = 1
    fields = (
        ("arm", "weight", "locale"),
        "headline",
        "body",
        ("image_url", "coupon_code"),
        ("cta_label", "cta_url"),
        ("submit_label", "success_text"),
    )

    def get_formset(self, request: HttpRequest, obj: Message | None = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        parent = obj
        if parent is None and request.method == "POST":
            # A new message: its arms are checked against the site chosen in the same form (links must
            # be the shop's), before anything is saved.
            raw = str(request.POST.get("source") or "")
            source = Source.objects.filter(pk=int(raw)).first() if raw.isdigit() else None
            parent = Message(source=source or Source(name="", allowed_origins=[]))

        class WithParent(formset):  # type: ignore[misc, valid-type]
            def _construct_form(self, i: int, **kw: Any) -> Any:
                form = super()._construct_form(i, **kw)
                form.parent_message = parent
                return form

        return WithParent


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    form = MessageForm
    inlines = [VariantInline]
    list_display = ("name", "kind", "status", "trigger", "source", "audience")
    list_filter = ("status", "kind", "trigger")
    search_fields = ("name",)
    actions = ("pause", "resume")
    readonly_fields = ("preview_link", "results")
    fieldsets = (
        (
            None,
            {"fields": ("name", "source", "kind", "embed_selector", "status", "priority", "preview_link")},
        ),
        (
            "Trigger",
            {
                "fields": (
                    "trigger",
                    ("trigger_seconds", "trigger_pages", "trigger_scroll_percent"),
                    ("trigger_event", "trigger_unless_event", "trigger_wait_minutes"),
                )
            },
        ),
        (
            "Targeting",
            {
                "fields": (
                    "url_rules",
                    ("device", "visitor", "who"),
                    "utm_source",
                    "audience",
                    "required_tags",
                )
            },
        ),
        (
            "Frequency",
            {
                "fields": (
                    ("once_per_session", "stop_after_submit", "stop_after_click"),
                    ("min_days_between", "max_views"),
                )
            },
        ),
        ("Form", {"fields": (("form_email", "form_phone"), "consents")}),
        ("Experiment and goal", {"fields": ("holdout_percent", ("goal_event", "goal_days"))}),
        ("Results", {"fields": ("results",)}),
    )

    @admin.display(description="Preview on the shop")
    def preview_link(self, obj: Message) -> str | SafeString:
        if not obj.pk:
            return "Save first."
        origins = obj.source.allowed_origins or []
        if not origins:
            return "Allow the shop's origin on the source (Tracking › Sources) to get a preview link."
        url = f"{origins[0]}/?voyage_preview={preview_token(message_id=obj.pk)}"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">Open the shop with this message forced on</a> '
            "(valid 24 hours; change the path to preview another page)",
            url,
        )

    @admin.display(description="Results")
    def results(self, obj: Message) -> str | SafeString:
        if not obj.pk:
            return "–"
        r = message_results(message=obj)
        if not r.arms:
            return "Nobody has seen it yet."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    a.arm,
                    a.impressions,
                    a.visitors,
                    a.closes,
                    a.clicks,
                    a.submits,
                    a.conversions,
                    ", ".join(f"{v:.2f} {c}" for c, v in sorted(a.revenue.items())) or "–",
                )
                for a in r.arms
            ),
        )
        return format_html(
            '<div id="results"><table class="onsite-results"><thead><tr><th>arm</th><th>impressions</th>'
            "<th>visitors (held out)</th><th>closed</th><th>clicked</th><th>submitted</th><th>converted</th>"
            '<th>revenue</th></tr></thead><tbody>{}</tbody></table><p class="verdict">{}</p></div>',
            rows,
            r.verdict.sentence,
        )

    @admin.action(description="Pause selected messages", permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        n = queryset.update(status=Status.PAUSED)
        messages_cache_clear()
        self.message_user(request, f"{n} message(s) paused.", messages.SUCCESS)

    @admin.action(description="Resume (activate) selected messages", permissions=["change"])
    def resume(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        n = queryset.update(status=Status.ACTIVE)
        messages_cache_clear()
        self.message_user(request, f"{n} message(s) active.", messages.SUCCESS)

    def save_model(self, request: HttpRequest, obj: Message, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        messages_cache_clear()
