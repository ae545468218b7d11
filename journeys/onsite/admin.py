"""Admin for on-site messages: the designer (every part of a message as fields, checked as you type,
with a live desktop and mobile preview rendered by the snippet itself), a signed preview link to the
shop's real page, pause/resume and results. Journey designers edit; marketers read the same pages
without buttons.

The live preview does not draw the message a second way: the page posts the form as it stands to
`preview/`, which validates it with the same forms as Save and renders the chosen arm with the same
payload function as the public decide; the result waits in the cache under a random token, and two
iframes load a page with the real snippet served under `preview/<token>/`, so its calls to
`/v1/onsite/…` land on the token's stand-in endpoints (decide answers the draft; views, clicks and
submits are not recorded)."""

from __future__ import annotations

import secrets
from typing import Any

import orjson
from django.conf import settings
from django.contrib import admin, messages
from django.core.cache import cache
from django.db.models import QuerySet
from django.forms.models import inlineformset_factory
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt

from journeys.onsite.forms import (
    ALL_TRIGGER_FIELDS,
    TRIGGER_FIELDS,
    MessageForm,
    VariantForm,
    VariantFormSet,
    form_errors_named,
    sample_profiles,
)
from journeys.onsite.models import Kind, Message, Status, Variant
from journeys.onsite.selectors import message_results
from journeys.onsite.services import message_preview, messages_cache_clear
from journeys.onsite.views import SNIPPET, preview_token
from tracking.models import Channel, Profile, Source
from tracking.roles import can_view_personal_data

PREVIEW_CACHE_SECONDS = 30 * 60
PREVIEW_SLOT = "#voyage-preview-slot"
VARIANT_FIELDS = [f.name for f in Variant._meta.fields if f.editable and not f.primary_key]


class VariantInline(admin.StackedInline):
    model = Variant
    form = VariantForm
    formset = VariantFormSet
    extra = 0
    min_num = 1
    verbose_name = "content (one A/B arm in one locale)"
    verbose_name_plural = "Content: A/B arms × locales"
    fields = (
        ("arm", "weight", "locale"),
        "headline",
        "body",
        ("image_url", "coupon_code"),
        ("cta_label", "cta_url"),
        ("submit_label", "success_text"),
    )


def _preview_key(token: str) -> str:
    return f"onsite:designer-preview:{token}"


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    form = MessageForm
    inlines = [VariantInline]
    list_display = ("name", "kind", "status", "trigger", "source", "audience")
    list_filter = ("status", "kind", "trigger")
    search_fields = ("name",)
    actions = ("pause", "resume")
    readonly_fields = ("preview_link", "results")

    def get_fieldsets(self, request: HttpRequest, obj: Message | None = None) -> Any:
        editing = self.has_change_permission(request, obj) if obj else self.has_add_permission(request)
        # Read-only pages show the lists as sentences, not as the widgets' rows.
        rules, consents, tags = (
            ("url_rules", "consents", "required_tags")
            if editing
            else ("url_rules_summary", "consents_summary", "tags_summary")
        )
        trigger_fields: tuple[str, ...] = ALL_TRIGGER_FIELDS
        message_fields = ("name", "source", "kind", "embed_selector", "status", "priority", "preview_link")
        if not editing and obj is not None:
            # A reader sees the numbers of the message's own trigger, not every trigger's.
            trigger_fields = TRIGGER_FIELDS.get(obj.trigger, ())
            if obj.kind != Kind.EMBEDDED:
                message_fields = tuple(f for f in message_fields if f != "embed_selector")
        frequency = (
            "once_per_session",
            "min_days_between",
            "max_views",
            "stop_after_submit",
            "stop_after_click",
            "stop_after_conversion",
        )
        return (
            ("Message", {"fields": message_fields}),
            ("Trigger", {"fields": ("trigger", *trigger_fields, rules, "device", "visitor", "utm_source")}),
            ("Targeting", {"fields": ("who", "audience", tags)}),
            ("Form", {"fields": ("form_email", "form_phone", consents)}),
            ("Frequency", {"fields": frequency}),
            ("A/B test and goal", {"fields": ("holdout_percent", "goal_event", "goal_days")}),
            ("Results", {"fields": ("results",)}),
        )

    # --- read-only summaries ------------------------------------------------------------------

    @admin.display(description="Pages (URL rules)")
    def url_rules_summary(self, obj: Message) -> str:
        if not obj.url_rules:
            return "every page"
        return "; ".join(
            f"{'never on' if r.get('exclude') else 'on'} pages whose URL {r.get('match')} {r.get('value')!r}"
            for r in obj.url_rules
        )

    @admin.display(description="Consent checkboxes")
    def consents_summary(self, obj: Message) -> str:
        labels = dict(Channel.choices)
        return (
            "; ".join(
                f"{labels.get(c.get('channel'), c.get('channel'))} / {c.get('topic') or 'marketing'}: "
                f"“{c.get('label')}”"
                for c in obj.consents
            )
            or "none"
        )

    @admin.display(description="Profile tags (all required)")
    def tags_summary(self, obj: Message) -> str:
        return ", ".join(obj.required_tags) or "none"

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

    # --- pause / resume -----------------------------------------------------------------------

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

    def state_view(self, request: HttpRequest, pk: int, action: str) -> HttpResponse:
        """The change page's Pause / Resume buttons (POST only; designers only)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        message = get_object_or_404(Message, pk=pk)
        if not self.has_change_permission(request, message):
            return HttpResponseForbidden("you may read this message, not change it")
        status = {"pause": Status.PAUSED, "resume": Status.ACTIVE}.get(action)
        if status is None:
            return HttpResponseBadRequest("action: pause or resume")
        Message.objects.filter(pk=message.pk).update(status=status)
        messages_cache_clear()
        self.message_user(
            request,
            f"“{message.name}” is {'paused' if status == Status.PAUSED else 'active'}.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:onsite_message_change", args=[message.pk]))

    def save_model(self, request: HttpRequest, obj: Message, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        messages_cache_clear()

    # --- the designer page --------------------------------------------------------------------

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], add: bool = False, change: bool = False,
        form_url: str = "", obj: Message | None = None,
    ) -> HttpResponse:  # fmt: skip
        profiles: list[tuple[int, str]] = []
        if can_view_personal_data(request.user):
            profiles = sample_profiles(audience_id=obj.audience_id if obj else None)
        context.update(
            {
                "onsite_preview_url": reverse("admin:onsite_message_preview"),
                "onsite_sample_profiles": profiles,
                "onsite_message": obj,
                "onsite_can_change": bool(
                    self.has_change_permission(request, obj) if obj else self.has_add_permission(request)
                ),
            }
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("preview/", view(self.preview_view), name="onsite_message_preview"),
            path(
                "preview/<str:token>/frame/",
                view(xframe_options_sameorigin(self.preview_frame_view)),
                name="onsite_message_preview_frame",
            ),
            # The snippet and its endpoints under the token: the snippet finds its endpoints next to
            # its own URL, and sends no cookies, so these are reached by the unguessable token alone.
            path(
                "preview/<str:token>/onsite/<str:version>/onsite.js",
                preview_snippet,
                name="onsite_message_preview_snippet",
            ),
            path("preview/<str:token>/v1/onsite/<str:action>", preview_endpoint),
            path("<int:pk>/state/<str:action>/", view(self.state_view), name="onsite_message_state"),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """The form as it stands (or the saved message, for readers): its problems by field, and a
        token the preview frames render."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        raw = str(request.POST.get("_preview_message") or "")
        obj = Message.objects.filter(pk=int(raw)).select_related("source").first() if raw.isdigit() else None
        if raw and obj is None:
            return JsonResponse({"error": "_preview_message: no such message"}, status=404)
        if not self.has_view_permission(request, obj):
            return HttpResponseForbidden("you may not see on-site messages")
        editing = self.has_change_permission(request, obj) if obj else self.has_add_permission(request)
        if editing and request.POST.get("_preview_saved") != "1":
            form = MessageForm(request.POST, instance=obj or Message())
            form.is_valid()
            message = form.instance
            formset_class = inlineformset_factory(
                Message, Variant, form=VariantForm, formset=VariantFormSet, fields=VARIANT_FIELDS, extra=0
            )
            formset = formset_class(request.POST, instance=message, prefix="variants")
            formset.is_valid()
            errors = form_errors_named(form=form, formset=formset)
            variants = [
                f.instance
                for f in formset.forms
                if not (getattr(f, "cleaned_data", None) or {}).get("DELETE")
            ]
        elif obj is not None:
            message, errors, variants = obj, [], list(obj.variants.all())
        else:
            return JsonResponse({"error": "_preview_message: which message"}, status=400)
        if message.source_id is None:
            message.source = Source(name="", allowed_origins=[])  # links are checked against none
        chosen = str(request.POST.get("_preview_variant") or "0")
        index = int(chosen) if chosen.isdigit() and int(chosen) < len(variants) else 0
        answer: dict[str, Any] = {
            "errors": errors,
            "variants": [
                {"index": i, "label": f"{v.arm or '?'} · {v.locale or '?'}"} for i, v in enumerate(variants)
            ],
            "variant": index,
            "kind": message.kind,
            "token": None,
        }
        if not variants:
            return JsonResponse(answer)
        profile = None
        wanted = str(request.POST.get("_preview_profile") or "")
        if wanted.isdigit() and can_view_personal_data(request.user):
            profile = Profile.objects.filter(pk=int(wanted)).first()
        payload = message_preview(
            message=message, variant=variants[index], profile=profile, source=message.source
        )
        payload["id"] = message.pk or 0
        selector = payload.get("selector") or ""
        if message.kind == Kind.EMBEDDED:
            payload["selector"] = PREVIEW_SLOT  # the frame's stand-in for the shop's element
        token = secrets.token_urlsafe(24)
        cache.set(_preview_key(token), {"payload": payload, "selector": selector}, PREVIEW_CACHE_SECONDS)
        answer["token"] = token
        answer["frame"] = reverse("admin:onsite_message_preview_frame", args=[token])
        return JsonResponse(answer)

    def preview_frame_view(self, request: HttpRequest, token: str) -> HttpResponse:
        """A stand-in shop page with the snippet on it (the preview's iframes)."""
        if not self.has_view_permission(request):
            return HttpResponseForbidden("you may not see on-site messages")
        found = cache.get(_preview_key(token))
        context = {
            "found": found is not None,
            "kind": (found or {}).get("payload", {}).get("kind", ""),
            "selector": (found or {}).get("selector", ""),
            "snippet_url": reverse(
                "admin:onsite_message_preview_snippet", args=[token, settings.ONSITE_SNIPPET_VERSION]
            ),
        }
        return TemplateResponse(request, "onsite/admin/preview_frame.html", context)


def preview_snippet(request: HttpRequest, token: str, version: str) -> HttpResponse:
    """The same snippet file the shops load, from under the preview token."""
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    response = HttpResponse(SNIPPET.read_bytes(), content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt
def preview_endpoint(request: HttpRequest, token: str, action: str) -> HttpResponse:
    """decide answers the draft the token stands for; views, closes, clicks and submits in a preview
    are not anybody's: answered as accepted, recorded nowhere."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    found = cache.get(_preview_key(token))
    if action == "decide":
        body = {"messages": [found["payload"]] if found else []}
    elif action in ("interactions", "submit"):
        body = {"success": True, "preview": True}
    else:
        return HttpResponse(
            orjson.dumps({"error": "no such endpoint"}), status=404, content_type="application/json"
        )
    response = HttpResponse(orjson.dumps(body), content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response
