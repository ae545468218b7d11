"""The operator's view of channels: settings and credentials (write-only), templates with preview
and test send, the outbox with each message's attempts and timeline, suppressions, caps."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from channels import tokens
from channels.adapters import ADAPTERS, SECRET_ENV, channel_connection_check
from channels.models import (
    CallbackRejection,
    ChannelSettings,
    FrequencyCap,
    Message,
    MessageAttempt,
    MessageEvent,
    Provider,
    SandboxDelivery,
    Suppression,
    Template,
    TemplateVariant,
)
from channels.policy import TEST_SEND_KIND
from channels.rendering import RenderError, render_variant, variant_for
from channels.services import EnqueueError, message_enqueue
from channels.suppressions import suppression_add, suppression_address_normalize, suppressions_find
from tracking.models import Profile
from tracking.roles import PersonalDataAdmin

ALL_SECRETS = sorted({name for names in SECRET_ENV.values() for name in names})


def _secret_field(name: str) -> forms.CharField:
    providers = ", ".join(p for p, names in SECRET_ENV.items() if name in names)
    widget = (
        forms.Textarea(attrs={"rows": 3})
        if name == "service_account"
        else forms.PasswordInput(render_value=False)
    )
    return forms.CharField(required=False, widget=widget, label=f"{name} ({providers})")


class _ChannelSettingsFormBase(forms.ModelForm):
    """Secrets are write-only: a field left empty keeps the stored value; nothing is ever shown back."""

    clear_secrets = forms.BooleanField(
        required=False, help_text="Remove every stored secret of this channel."
    )

    class Meta:
        model = ChannelSettings
        fields = ["channel", "provider", "enabled", "options"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stored = (self.instance.secrets or {}) if self.instance.pk else {}
        for name in ALL_SECRETS:
            state = "set — type a new value to replace it" if stored.get(name) else "not set"
            env_names = ", ".join(sorted({names[name] for names in SECRET_ENV.values() if name in names}))
            field = self.fields[f"secret_{name}"]
            field.help_text = f"Currently {state}. Fallback: environment variable {env_names}."
            field.initial = ""

    class Media:
        # Offers only the providers that send the chosen channel, and only that provider's secrets.
        js = ("channels/channel_settings.js",)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        channel, provider = data.get("channel"), data.get("provider")
        if channel and provider and channel not in ADAPTERS[provider].channels:
            able = [label for value, label in Provider.choices if channel in ADAPTERS[value].channels]
            self.add_error(
                "provider",
                f"{Provider(provider).label} does not send {channel}; choose one of: {', '.join(able)}.",
            )
        return data

    def save(self, commit: bool = True) -> ChannelSettings:
        instance = super().save(commit=False)
        secrets = {} if self.cleaned_data.get("clear_secrets") else dict(instance.secrets or {})
        for name in ALL_SECRETS:
            value = self.cleaned_data.get(f"secret_{name}")
            if value:
                secrets[name] = value.strip()
        instance.secrets = secrets
        if commit:
            instance.save()
        return instance


ChannelSettingsForm = type(
    "ChannelSettingsForm",
    (_ChannelSettingsFormBase,),
    {"__module__": __name__, **{f"secret_{n}": _secret_field(n) for n in ALL_SECRETS}},
)


@admin.register(ChannelSettings)
class ChannelSettingsAdmin(admin.ModelAdmin):
    form = ChannelSettingsForm
    list_display = ["channel", "provider", "enabled", "secrets_configured", "updated_at"]
    list_filter = ["provider", "enabled"]
    change_form_template = "admin/channels/channelsettings/change_form.html"

    def get_urls(self) -> list:
        return [
            path(
                "<int:pk>/test-connection/",
                self.admin_site.admin_view(self.test_connection_view),
                name="channels_channelsettings_test_connection",
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request: HttpRequest, context: dict, *args: Any, **kwargs: Any) -> Any:
        context["provider_map"] = {
            provider: {"channels": list(cls.channels), "secrets": list(SECRET_ENV.get(provider, {}))}
            for provider, cls in ADAPTERS.items()
        }
        return super().render_change_form(request, context, *args, **kwargs)

    def test_connection_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """POST: call the provider with the saved settings (nothing is sent) and say what happened."""
        row = get_object_or_404(ChannelSettings, pk=pk)
        back = reverse("admin:channels_channelsettings_change", args=[pk])
        if request.method != "POST" or not self.has_change_permission(request, row):
            return HttpResponseRedirect(back)
        ok, detail = channel_connection_check(channel=row.channel)
        if ok:
            messages.success(request, f"Connection works. {detail}")
        else:
            messages.error(request, f"Connection failed: {detail}")
        return HttpResponseRedirect(back)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [
            "channel",
            "provider",
            "enabled",
            "options",
            *(f"secret_{n}" for n in ALL_SECRETS),
            "clear_secrets",
        ]

    @admin.display(description="Secrets set")
    def secrets_configured(self, obj: ChannelSettings) -> str:
        return ", ".join(sorted(k for k, v in (obj.secrets or {}).items() if v)) or "—"


class TemplateVariantInline(admin.StackedInline):
    model = TemplateVariant
    extra = 0
    fields = ["locale", "subject", "html", "text", "body", "title", "deep_link", "image", "json_body"]


class PreviewForm(forms.Form):
    profile_id = forms.IntegerField(help_text="Render for this profile (its traits, locale and zone).")
    locale = forms.CharField(required=False, help_text="Override the profile's locale.")
    data = forms.JSONField(required=False, initial=dict, help_text='Custom data, e.g. {"code": "WELCOME10"}.')


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "channel", "topic", "locales", "preview_link", "updated_at"]
    list_filter = ["channel", "topic"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [TemplateVariantInline]

    @admin.display(description="Locales")
    def locales(self, obj: Template) -> str:
        return ", ".join(v.locale for v in obj.variants.all())

    @admin.display(description="Preview")
    def preview_link(self, obj: Template) -> str:
        return format_html(
            '<a href="{}">Preview</a>', reverse("admin:channels_template_preview", args=[obj.pk])
        )

    def get_urls(self) -> list:
        return [
            path(
                "<int:pk>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="channels_template_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        template = get_object_or_404(Template, pk=pk)
        if not self.has_view_permission(request, template):
            return HttpResponse(status=403)
        form = PreviewForm(request.POST or request.GET or None)
        rendered, error = None, ""
        if form.is_bound and form.is_valid():
            profile = Profile.objects.filter(pk=form.cleaned_data["profile_id"]).first()
            data = form.cleaned_data.get("data") or {}
            if profile is None:
                form.add_error("profile_id", "No such profile.")
            elif request.method == "POST" and "test_send" in request.POST:
                return self._test_send(request, template, profile, data)
            else:
                try:
                    variant = variant_for(template, form.cleaned_data.get("locale") or profile.locale)
                    rendered = render_variant(
                        variant=variant, channel=template.channel, profile=profile, data=data, message_id=0
                    )
                    if rendered.content.get("html"):
                        # Looking at a preview is not an open: the pixel stays out of the page.
                        pixel = re.escape(tokens.open_url(message_id=0))
                        rendered.content["html"] = re.sub(
                            f'<img src="{pixel}"[^>]*>', "", rendered.content["html"]
                        )
                except RenderError as exc:
                    error = str(exc)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": template,
            "title": f"Preview {template.slug}",
            "form": form,
            "rendered": rendered,
            "error": error,
            # Marketers read; only those who may change templates see (and may press) Test send.
            "can_test_send": self.has_change_permission(request, template),
        }
        return TemplateResponse(request, "admin/channels/template/preview.html", context)

    def _test_send(
        self, request: HttpRequest, template: Template, profile: Profile, data: dict
    ) -> HttpResponse:
        if not self.has_change_permission(request, template):
            return HttpResponse(status=403)
        to_me = request.POST.get("send_to") == "me"
        own = (request.user.email or "").strip()
        if to_me and (template.channel != "email" or not own):
            messages.error(
                request,
                "Sending to your own inbox needs an email template and an email address on your user "
                "(Change password › your user, or ask an administrator).",
            )
            return HttpResponseRedirect(request.get_full_path())
        try:
            with transaction.atomic():
                message = message_enqueue(
                    profile_id=profile.pk,
                    channel=template.channel,
                    template_slug=template.slug,
                    topic="transactional",
                    data=data,
                    campaign_kind=TEST_SEND_KIND,
                    idempotency_key=f"admin-test:{uuid.uuid4()}",
                )
                if to_me:
                    # Rendered for the profile, delivered to the designer (channels.policy honours it).
                    Message.objects.filter(pk=message.pk).update(
                        address=suppression_address_normalize(channel="email", address=own)
                    )
        except EnqueueError as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(request.path)
        where = f"to {own}" if to_me else f"to profile {profile.pk}"
        messages.success(
            request, f"Test message {message.pk} queued {where}; its timeline shows what happens."
        )
        return HttpResponseRedirect(reverse("admin:channels_message_change", args=[message.pk]))


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AttemptInline(ReadOnlyInline):
    model = MessageAttempt
    fields = [
        "number",
        "provider",
        "started_at",
        "finished_at",
        "status_code",
        "duration_ms",
        "retryable",
        "batch_size",
        "error",
    ]
    readonly_fields = fields


class EventInline(ReadOnlyInline):
    model = MessageEvent
    fields = ["at", "kind", "data"]
    readonly_fields = fields


@admin.register(Message)
class MessageAdmin(PersonalDataAdmin, admin.ModelAdmin):
    list_display = [
        "id",
        "profile",
        "channel",
        "template",
        "status",
        "skip_reason",
        "campaign",
        "due_at",
        "sent_at",
    ]
    list_filter = ["status", "skip_reason", "channel", "campaign_kind", "provider", "topic"]
    search_fields = ["=id", "idempotency_key", "address", "provider_message_id", "=campaign_id"]
    list_select_related = ["template", "profile"]
    raw_id_fields = ["profile", "template"]
    inlines = [AttemptInline, EventInline]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Message._meta.fields]
    show_full_result_count = False

    @admin.display(description="Campaign")
    def campaign(self, obj: Message) -> str:
        return f"{obj.campaign_kind} {obj.campaign_id or ''}".strip() or "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SuppressionForm(forms.ModelForm):
    class Meta:
        model = Suppression
        fields = ["channel", "address", "reason", "at", "detail"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["at"].initial = timezone.now
        self.fields["address"].required = True

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        channel, address = data.get("channel"), data.get("address")
        if channel and address and not self.instance.pk:
            data["address"] = suppression_address_normalize(channel=channel, address=address)
            if suppressions_find(channel=channel, addresses=[address]):
                self.add_error("address", "This address is already suppressed on this channel.")
        return data


@admin.register(Suppression)
class SuppressionAdmin(PersonalDataAdmin, admin.ModelAdmin):
    form = SuppressionForm
    list_display = ["address_shown", "channel", "reason", "at", "detail"]
    list_filter = ["channel", "reason"]
    search_fields = ["address"]

    @admin.display(description="Address", ordering="address")
    def address_shown(self, obj: Suppression) -> str:
        return obj.address or "(erased; still suppressed)"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # The row is found by its address's keyed hash: an address is added, never edited in place.
        return ["channel", "address"] if obj else []

    def save_model(self, request: HttpRequest, obj: Suppression, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        saved = suppression_add(
            channel=obj.channel, address=obj.address, reason=obj.reason, at=obj.at, detail=obj.detail
        )
        obj.pk = saved.pk


@admin.register(FrequencyCap)
class FrequencyCapAdmin(admin.ModelAdmin):
    list_display = ["__str__", "scope", "channel", "max_messages", "days", "enabled"]
    list_editable = ["enabled"]


@admin.register(CallbackRejection)
class CallbackRejectionAdmin(admin.ModelAdmin):
    list_display = ["at", "endpoint", "status_code", "reason", "remote_addr"]
    list_filter = ["endpoint", "status_code"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SandboxDelivery)
class SandboxDeliveryAdmin(PersonalDataAdmin, admin.ModelAdmin):
    list_display = ["at", "channel", "to", "subject", "message"]
    list_filter = ["channel"]
    search_fields = ["to", "subject"]
    raw_id_fields = ["message"]
    readonly_fields = ["message", "channel", "to", "subject", "body_preview", "headers", "at"]
    fields = readonly_fields

    @admin.display(description="Body")
    def body_preview(self, obj: SandboxDelivery) -> str:
        if obj.channel == "email":
            return format_html(
                '<iframe sandbox="" srcdoc="{}" style="width:100%;height:420px;border:1px solid #ccc">'
                "</iframe>",
                obj.body,
            )
        return obj.body

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
