"""Admin for partner webhooks: endpoints (secret shown once, rotation, enable/disable) and the delivery log.

Every write goes through channels.partner.services; this module only wires forms, buttons and pages.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from channels.partner import conf
from channels.partner.models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint
from channels.partner.registry import ALL, event_types_list
from channels.partner.services import (
    delivery_replay,
    endpoint_create,
    endpoint_disable,
    endpoint_enable,
    endpoint_event_types_validate,
    endpoint_secret_rotate,
    endpoint_update,
    endpoint_url_validate,
)


def _event_type_choices() -> list[tuple[str, str]]:
    return [(ALL, "Every event type (including ones added later)")] + [
        (name, f"{name} — {description}") for name, description in event_types_list()
    ]


def _formfield(field: Any, **kwargs: Any) -> forms.Field | None:
    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return field.formfield(**kwargs)


class EndpointForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        choices=_event_type_choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="What this partner receives.",
    )

    class Meta:
        model = Endpoint
        fields = ["url", "description", "event_types", "rate_limit", "enabled"]
        formfield_callback = _formfield

    def clean_url(self) -> str:
        try:
            return endpoint_url_validate(self.cleaned_data["url"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["url"])

    def clean_event_types(self) -> list[str]:
        try:
            return endpoint_event_types_validate(list(self.cleaned_data["event_types"]))
        except ValidationError as exc:
            raise ValidationError([m for ms in exc.message_dict.values() for m in ms])


def _secret_reveal(request: HttpRequest, endpoint: Endpoint, secret: str, *, rotated: bool) -> HttpResponse:
    """The only page that ever shows a secret: rendered in the POST's response, never stored in messages."""
    response = TemplateResponse(
        request,
        "admin/partner/endpoint/secret_reveal.html",
        {
            **admin.site.each_context(request),
            "title": "Signing secret",
            "endpoint": endpoint,
            "secret": secret,
            "rotated": rotated,
            "opts": Endpoint._meta,
            "change_url": reverse("admin:partner_endpoint_change", args=[endpoint.pk]),
        },
    )
    response["Cache-Control"] = "no-store"
    return response


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["__str__", "url", "enabled", "subscribed", "health", "delivery_log"]
    list_filter = ["enabled"]
    search_fields = ["url", "description"]
    readonly_fields = ["signing_secret", "disabled_reason", "disabled_at", "failing_since", "created_at"]
    actions = ["enable_selected", "disable_selected"]

    def get_queryset(self, request: HttpRequest):
        return (
            super()
            .get_queryset(request)
            .annotate(
                pending_count=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.PENDING)),
                failed_count=Count(
                    "deliveries",
                    filter=Q(deliveries__status__in=[DeliveryStatus.FAILED, DeliveryStatus.DEAD]),
                ),
            )
        )

    def get_fields(self, request: HttpRequest, obj: Endpoint | None = None) -> list[str]:
        fields = ["url", "description", "event_types", "rate_limit"]
        if obj is None:
            return fields
        return [
            *fields,
            "enabled",
            "signing_secret",
            "disabled_reason",
            "disabled_at",
            "failing_since",
            "created_at",
        ]

    @admin.display(description="Event types")
    def subscribed(self, obj: Endpoint) -> str:
        return "all" if ALL in obj.event_types else ", ".join(obj.event_types) or "none"

    @admin.display(description="Health")
    def health(self, obj: Endpoint) -> str:
        if not obj.enabled:
            return format_html(
                '<span style="color:#ba2121">Disabled: {}</span>', obj.disabled_reason or "by an operator"
            )
        if obj.failing_since:
            return format_html(
                '<span style="color:#b36b00">Failing since {:%Y-%m-%d %H:%M}</span>', obj.failing_since
            )
        return "OK"

    @admin.display(description="Deliveries")
    def delivery_log(self, obj: Endpoint) -> str:
        url = reverse("admin:partner_delivery_changelist") + f"?endpoint__id__exact={obj.pk}"
        return format_html(
            '<a href="{}">log</a> ({} pending, {} failed)',
            url,
            getattr(obj, "pending_count", 0),
            getattr(obj, "failed_count", 0),
        )

    @admin.display(description="Signing secret")
    def signing_secret(self, obj: Endpoint) -> str:
        rotated = (
            f", last rotated {obj.secret_rotated_at:%Y-%m-%d %H:%M} UTC" if obj.secret_rotated_at else ""
        )
        return f"whsec_•••••••• (shown only when created or rotated{rotated})"

    # --- saving through the services ---------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: Endpoint, form: forms.ModelForm, change: bool) -> None:
        data = form.cleaned_data
        if change:
            endpoint_update(endpoint=obj, data={k: data[k] for k in form.changed_data if k in data})
            return
        endpoint, secret = endpoint_create(
            url=data["url"],
            event_types=data["event_types"],
            description=data.get("description", ""),
            enabled=True,
            rate_limit=data.get("rate_limit"),
        )
        obj.pk, obj.secret, obj.created_at = endpoint.pk, endpoint.secret, endpoint.created_at
        obj._state.adding = False
        request._partner_secret = secret  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: Endpoint, post_url_continue: str | None = None
    ) -> HttpResponse:
        secret = getattr(request, "_partner_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        return _secret_reveal(request, obj, secret, rotated=False)

    # --- buttons: rotate, enable, disable ------------------------------------------------------

    def get_urls(self):
        own = [
            path(
                "<int:pk>/rotate-secret/",
                self.admin_site.admin_view(self.rotate_secret_view),
                name="partner_endpoint_rotate_secret",
            ),
            path(
                "<int:pk>/enable/",
                self.admin_site.admin_view(self.enable_view),
                name="partner_endpoint_enable",
            ),
            path(
                "<int:pk>/disable/",
                self.admin_site.admin_view(self.disable_view),
                name="partner_endpoint_disable",
            ),
        ]
        return own + super().get_urls()

    def _endpoint_for_change(self, request: HttpRequest, pk: int) -> Endpoint:
        endpoint = get_object_or_404(Endpoint, pk=pk)
        if not self.has_change_permission(request, endpoint):
            raise PermissionDenied
        return endpoint

    def rotate_secret_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        endpoint = self._endpoint_for_change(request, pk)
        if request.method == "POST":
            secret = endpoint_secret_rotate(endpoint=endpoint)
            self.log_change(request, endpoint, "Rotated the signing secret.")
            return _secret_reveal(request, endpoint, secret, rotated=True)
        return TemplateResponse(
            request,
            "admin/partner/endpoint/rotate_confirm.html",
            {
                **self.admin_site.each_context(request),
                "title": "Rotate the signing secret?",
                "endpoint": endpoint,
                "opts": Endpoint._meta,
                "overlap_hours": int(conf.rotation_overlap().total_seconds() // 3600),
            },
        )

    def enable_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return require_POST(self._enable)(request, pk)

    def _enable(self, request: HttpRequest, pk: int) -> HttpResponse:
        endpoint = endpoint_enable(endpoint=self._endpoint_for_change(request, pk))
        self.log_change(request, endpoint, "Enabled.")
        messages.success(
            request, f"{endpoint} is enabled. Replay its failed deliveries from the delivery log."
        )
        return HttpResponseRedirect(reverse("admin:partner_endpoint_change", args=[pk]))

    def disable_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return require_POST(self._disable)(request, pk)

    def _disable(self, request: HttpRequest, pk: int) -> HttpResponse:
        endpoint = endpoint_disable(
            endpoint=self._endpoint_for_change(request, pk), reason="Disabled by an operator"
        )
        self.log_change(request, endpoint, "Disabled.")
        messages.warning(request, f"{endpoint} is disabled: nothing will be sent to it.")
        return HttpResponseRedirect(reverse("admin:partner_endpoint_change", args=[pk]))

    @admin.action(description="Enable selected endpoints", permissions=["change"])
    def enable_selected(self, request: HttpRequest, queryset) -> None:
        for endpoint in queryset:
            endpoint_enable(endpoint=endpoint)
        messages.success(request, f"Enabled {queryset.count()} endpoint(s).")

    @admin.action(description="Disable selected endpoints", permissions=["change"])
    def disable_selected(self, request: HttpRequest, queryset) -> None:
        for endpoint in queryset:
            endpoint_disable(endpoint=endpoint, reason="Disabled by an operator")
        messages.warning(request, f"Disabled {queryset.count()} endpoint(s).")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        disabled = Endpoint.objects.filter(enabled=False).order_by("-disabled_at")
        return super().changelist_view(request, {**(extra_context or {}), "disabled_endpoints": disabled})


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ["number", "at", "outcome", "status_code", "duration_ms", "error", "response_snippet"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "webhook_id",
        "endpoint",
        "event_type",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "event_type", "endpoint"]
    search_fields = ["webhook_id", "idempotency_key"]
    list_select_related = ["endpoint"]
    date_hierarchy = "created_at"
    inlines = [DeliveryAttemptInline]
    actions = ["replay_selected"]
    fields = [
        "endpoint",
        "event_type",
        "webhook_id",
        "idempotency_key",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "created_at",
        "succeeded_at",
        "payload_pretty",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # deliveries come from events; replay re-queues an existing one

    @admin.display(description="Payload")
    def payload_pretty(self, obj: Delivery) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False))

    @admin.action(
        description="Replay selected deliveries (same webhook-id, fresh retry schedule)",
        permissions=["change"],
    )
    def replay_selected(self, request: HttpRequest, queryset) -> None:
        replayed, refused = 0, []
        for delivery in queryset:
            try:
                delivery_replay(delivery=delivery)
                replayed += 1
            except ValidationError as exc:
                refused.append(f"{delivery.webhook_id}: {exc.messages[0]}")
        if replayed:
            messages.success(request, f"Queued {replayed} delivery(ies) again.")
        if refused:
            messages.error(
                request,
                format_html(
                    "Not replayed:<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((r,) for r in refused))
                ),
            )

    def get_urls(self):
        own = [
            path(
                "<int:pk>/replay/",
                self.admin_site.admin_view(self.replay_view),
                name="partner_delivery_replay",
            )
        ]
        return own + super().get_urls()

    def replay_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return require_POST(self._replay)(request, pk)

    def _replay(self, request: HttpRequest, pk: int) -> HttpResponse:
        delivery = get_object_or_404(Delivery, pk=pk)
        if not self.has_change_permission(request, delivery):
            raise PermissionDenied
        try:
            delivery_replay(delivery=delivery)
            messages.success(request, f"Delivery {delivery.webhook_id} queued again.")
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
        return HttpResponseRedirect(reverse("admin:partner_delivery_change", args=[pk]))
