"""Admin for order imports: an operator uploads a file, picks its format and source, and sees what happened.

The import runs while the page is submitted (files from the admin are small enough; the command
`import_orders` is there for big ones), then the page shows the summary and every bad row.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from tracking.imports import ImportFailed, order_import_record, orders_import
from tracking.imports.csv_orders import FIELDS
from tracking.imports.service import ImportSummary
from tracking.imports.types import RowIssue
from tracking.models import OrderImport

SUMMARY_LABELS = {
    "rows_read": "Rows read",
    "orders_in_file": "Orders in the file",
    "orders_created": "Orders created",
    "already_imported": "Already imported (unchanged)",
    "matched_existing_profiles": "Orders matched to existing profiles",
    "new_profiles": "New profiles",
    "skipped_rows": "Rows skipped",
    "skipped_orders": "Orders skipped",
    "errors": "Errors",
    "warnings": "Warnings (imported without a value)",
    "awaiting_processing": "Orders still awaiting identity resolution",
    "issues_not_stored": "Further problems not stored",
}


class OrderImportForm(forms.ModelForm):
    file = forms.FileField(
        help_text="Amazon order report (tab-separated .txt as downloaded from Seller Central), "
        "a CSV export with one row per item, or JSON lines with one order per line."
    )
    mapping = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="CSV only: which of your columns holds each field, as JSON, e.g. "
        '{"order_id": "Order Number", "purchased_at": "Created"}. Fields: ' + ", ".join(FIELDS) + ".",
    )
    currency = forms.CharField(
        required=False, max_length=3, help_text="Currency for rows that name none (ISO 4217, e.g. EUR)."
    )

    class Meta:
        model = OrderImport
        fields = ["file", "format", "source"]

    def clean_mapping(self) -> dict[str, Any] | None:
        text = self.cleaned_data["mapping"].strip()
        if not text:
            return None
        try:
            mapping = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}")
        if not isinstance(mapping, dict):
            raise forms.ValidationError('Must be a JSON object such as {"order_id": "Order Number"}.')
        return mapping


@admin.register(OrderImport)
class OrderImportAdmin(admin.ModelAdmin):
    form = OrderImportForm
    change_form_template = "admin/tracking/orderimport/change_form.html"
    list_display = ("created_at", "file_name", "format", "source", "orders_created", "problems", "created_by")
    list_filter = ("format", "source")
    search_fields = ("file_name",)
    readonly_fields = ("file_name", "created_by", "created_at")

    @admin.display(description="Orders created")
    def orders_created(self, obj: OrderImport) -> Any:
        return obj.summary.get("orders_created", "—")

    @admin.display(description="Errors / warnings")
    def problems(self, obj: OrderImport) -> str:
        if "failed" in obj.summary:
            return "failed"
        return f"{obj.summary.get('errors', 0)} / {obj.summary.get('warnings', 0)}"

    def has_change_permission(self, request: HttpRequest, obj: OrderImport | None = None) -> bool:
        # An import is a record of what happened: it can be viewed, not edited.
        return obj is None and super().has_change_permission(request, obj)

    def get_fields(self, request: HttpRequest, obj: OrderImport | None = None) -> list[str]:
        if obj is None:
            return ["file", "format", "source", "mapping", "currency"]
        return ["file", "file_name", "format", "source", "created_by", "created_at"]

    def save_model(self, request: HttpRequest, obj: OrderImport, form: forms.ModelForm, change: bool) -> None:
        upload = form.cleaned_data["file"]
        obj.file_name = upload.name[:255]
        obj.created_by = request.user
        obj.save()
        try:
            with obj.file.open("rb") as handle:
                summary = orders_import(
                    path_or_file=handle,
                    format=obj.format,
                    source=obj.source,
                    mapping=form.cleaned_data.get("mapping"),
                    default_currency=form.cleaned_data.get("currency") or "",
                )
        except ImportFailed as exc:
            obj.summary = {"failed": str(exc)}
            obj.errors = [RowIssue(0, str(exc)).as_dict()]
            obj.save(update_fields=["summary", "errors"])
            messages.error(request, f"The file could not be imported: {exc}")
            return
        order_import_record(
            source=obj.source, format=obj.format, file_name=obj.file_name, summary=summary, order_import=obj
        )
        self._announce(request, summary)

    def _announce(self, request: HttpRequest, summary: ImportSummary) -> None:
        text = (
            f"{summary.orders_created} orders imported, {summary.already_imported} already imported, "
            f"{summary.skipped_rows} rows skipped."
        )
        level = messages.WARNING if summary.errors else messages.SUCCESS
        messages.add_message(request, level, text)

    def response_add(
        self, request: HttpRequest, obj: OrderImport, post_url_continue: str | None = None
    ) -> HttpResponse:
        # Straight to the result page: the summary and the bad rows are what the operator came for.
        return HttpResponseRedirect(reverse("admin:tracking_orderimport_change", args=[obj.pk]))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if obj is not None:
            context["import_failed"] = obj.summary.get("failed", "")
            context["import_summary"] = [
                (label, obj.summary[key]) for key, label in SUMMARY_LABELS.items() if key in obj.summary
            ]
            context["import_issues"] = obj.errors
        return super().change_view(request, object_id, form_url, extra_context=context)
