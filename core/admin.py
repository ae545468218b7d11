"""The operators' "Set-aside rows" list: what a worker could not handle, and Retry / Discard."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib import admin, messages
from django.db import DatabaseError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.timesince import timesince

from core.models import SetAside
from core.setaside import set_aside_discard, set_aside_queues, set_aside_retry


def _queue_titles() -> dict[str, str]:
    return {q.name: q.title for q in set_aside_queues()}


class QueueFilter(admin.SimpleListFilter):
    title = "queue"
    parameter_name = "queue__exact"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(_queue_titles().items())

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(queue=self.value()) if self.value() else queryset


@admin.register(SetAside)
class SetAsideAdmin(admin.ModelAdmin):
    list_display = ("row", "queue_title", "error", "attempts", "last_seen", "state")
    list_display_links = ("error",)
    list_filter = ("state", QueueFilter)
    search_fields = ("error_class", "error_message", "=row_id")
    actions = ("retry", "discard")
    ordering = ("-last_seen_at", "-id")
    fields = (
        "queue_title",
        "row",
        "state",
        "error_class",
        "error_message",
        "traceback_text",
        "attempts",
        "first_seen_at",
        "last_seen_at",
        "resolved_at",
        "resolved_by",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rows are set aside by the workers, never by hand

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Nothing on a row is edited by hand (no Save button): "change" is what Retry and Discard need.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # Discard keeps the record of what happened

    @admin.display(description="queue", ordering="queue")
    def queue_title(self, obj: SetAside) -> str:
        return _queue_titles().get(obj.queue, obj.queue)

    @admin.display(description="row", ordering="row_id")
    def row(self, obj: SetAside) -> str:
        """A link to the row's own admin page when it has one (a lower floor may link up by URL)."""
        label = f"{obj.model.split('.')[-1]} #{obj.row_id}"
        try:
            model = apps.get_model(obj.model)
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.row_id])
        except (LookupError, NoReverseMatch):
            return label
        # A row whose stored values Python cannot read (the usual poison) has an admin page that
        # cannot open either: say so rather than link to an error.
        try:
            with transaction.atomic():
                found = model._default_manager.filter(pk=obj.row_id).first() is not None
        except DatabaseError:
            return format_html(
                '{}<br><small class="quiet" title="Python cannot read its stored values, so it has no page">unreadable</small>',
                label,
            )
        if not found:
            return format_html('{}<br><small class="quiet">deleted</small>', label)
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description="error", ordering="error_class")
    def error(self, obj: SetAside) -> str:
        return format_html(
            "<div style='min-width: 12rem; max-width: 32rem'><strong>{}</strong><br>{}</div>",
            obj.error_class.rsplit(".", 1)[-1],
            obj.error_message[:300],
        )

    @admin.display(description="last seen", ordering="last_seen_at")
    def last_seen(self, obj: SetAside) -> str:
        return format_html(
            '<span title="{}">{} ago</span>',
            obj.last_seen_at.isoformat(timespec="seconds"),
            timesince(obj.last_seen_at),
        )

    @admin.display(description="traceback")
    def traceback_text(self, obj: SetAside) -> str:
        return format_html('<pre style="white-space: pre-wrap; max-width: 60rem">{}</pre>', obj.traceback)

    @admin.action(description="Retry the selected rows (after fixing the cause)", permissions=["change"])
    def retry(self, request: HttpRequest, queryset: QuerySet) -> None:
        n = set_aside_retry(ids=list(queryset.values_list("pk", flat=True)), by=request.user.get_username())
        self.message_user(
            request,
            f"{n} row(s) are back in their queues; a row that fails again comes back to this list.",
            messages.SUCCESS,
        )

    @admin.action(description="Discard the selected rows (never process them)", permissions=["change"])
    def discard(self, request: HttpRequest, queryset: QuerySet) -> None:
        n = set_aside_discard(ids=list(queryset.values_list("pk", flat=True)), by=request.user.get_username())
        self.message_user(request, f"{n} row(s) discarded; they stay out of their queues.", messages.SUCCESS)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        return super().changelist_view(request, {"title": "Set-aside rows", **(extra_context or {})})
