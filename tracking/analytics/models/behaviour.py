"""Funnels, retention, slots, search, affinity and new-product models (issue: Growth analytics II)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SpecEvent(models.TextChoices):
    """The Segment e-commerce spec's event names that the behaviour pages read."""

    PRODUCTS_SEARCHED = "Products Searched"
    PRODUCT_LIST_VIEWED = "Product List Viewed"
    PRODUCT_CLICKED = "Product Clicked"
    PRODUCT_VIEWED = "Product Viewed"
    PRODUCT_ADDED = "Product Added"
    PRODUCT_REMOVED = "Product Removed"
    CHECKOUT_STARTED = "Checkout Started"
    ORDER_COMPLETED = "Order Completed"
    ORDER_REFUNDED = "Order Refunded"
    PROMOTION_VIEWED = "Promotion Viewed"
    PROMOTION_CLICKED = "Promotion Clicked"


class EventNameMapping(models.Model):
    """A workspace's own event name that means a spec event (e.g. "Search" → "Products Searched")."""

    spec_name = models.CharField(max_length=64, choices=SpecEvent.choices)
    workspace_name = models.CharField(max_length=200, unique=True)

    class Meta:
        ordering = ["spec_name", "workspace_name"]

    def __str__(self) -> str:
        return f"{self.workspace_name} → {self.spec_name}"


class AnalysisKind(models.TextChoices):
    FUNNEL = "funnel", "Funnel"
    RETENTION = "retention", "Retention"
    SEARCH = "search", "Search keywords"
    SLOTS = "slots", "Slots"
    AFFINITY = "affinity", "Affinity"
    NEW_PRODUCTS = "new_products", "New products"


class SavedAnalysis(models.Model):
    """A named analysis definition (the page's query string as a dict) that reopens as it was saved."""

    kind = models.CharField(max_length=16, choices=AnalysisKind.choices)
    name = models.CharField(max_length=200)
    definition = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name"]
        verbose_name_plural = "saved analyses"
        constraints = [models.UniqueConstraint(fields=["kind", "name"], name="saved_analysis_unique_name")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"


class BehaviourAccess(models.Model):
    """No table, no rows: the admin index entry that opens the behaviour pages, and their permission."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_behaviour", "Can read behaviour analytics (funnels, retention, …)")]
        verbose_name = "behaviour page"
        verbose_name_plural = "Behaviour pages (funnels, retention, search, slots, affinity, new products)"


class SearchSynonym(models.Model):
    """A search term (normalised: lower case, single spaces) read as another keyword."""

    term = models.CharField(max_length=200, unique=True)
    keyword = models.CharField(max_length=200)

    class Meta:
        ordering = ["keyword", "term"]

    def __str__(self) -> str:
        return f"{self.term} → {self.keyword}"


__all__ = [
    "SpecEvent",
    "EventNameMapping",
    "AnalysisKind",
    "SavedAnalysis",
    "BehaviourAccess",
    "SearchSynonym",
]
