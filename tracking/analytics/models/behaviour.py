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


# --- Rollups (tracking/analytics/behaviour/rollups.py): one row per UTC day and key, folded from events by
# the same "delta" queries the pages run live for days not folded yet, so the two cannot disagree.


class RollupKind(models.TextChoices):
    SEARCH = "search", "Search keywords"
    SLOTS = "slots", "Slots"
    AFFINITY = "affinity", "Affinity"


class RollupDay(models.Model):
    """A UTC day whose rollup rows of `kind` are complete (folded)."""

    kind = models.CharField(max_length=16, choices=RollupKind.choices)
    day = models.DateField()
    folded_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "day"], name="rollupday_kind_day")]


class RollupDirty(models.Model):
    """A UTC day whose events changed since it was folded (a late event, a merge, a new mapping)."""

    kind = models.CharField(max_length=16, choices=RollupKind.choices)
    day = models.DateField()
    marked_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "day"], name="rollupdirty_kind_day")]


class SearchDay(models.Model):
    """Per day, normalised search term (before synonyms) and profile: the searches and what followed."""

    day = models.DateField()
    term = models.TextField()
    profile_id = models.BigIntegerField()
    searches = models.IntegerField()
    zero = models.IntegerField()
    with_count = models.IntegerField()
    clicks = models.IntegerField()
    position_sum = models.DecimalField(max_digits=20, decimal_places=6, null=True)
    position_n = models.IntegerField()
    adds = models.IntegerField()
    orders = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["day", "term"], name="searchday_day_term_idx")]


class SearchCredit(models.Model):
    """Revenue of the orders that followed a search, per search day, term, order day and currency."""

    day = models.DateField()
    term = models.TextField()
    order_day = models.DateField()
    currency = models.CharField(max_length=8)
    amount = models.DecimalField(max_digits=24, decimal_places=6)

    class Meta:
        indexes = [models.Index(fields=["day"], name="searchcredit_day_idx")]


class SlotDay(models.Model):
    """Per day, slot (promotion, creative, position) and profile: impressions and clicks."""

    day = models.DateField()
    promotion_id = models.TextField()
    creative = models.TextField()
    position = models.TextField()
    profile_id = models.BigIntegerField()
    views = models.IntegerField()
    clicks = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["day"], name="slotday_day_idx")]


class SlotCredit(models.Model):
    """Orders credited to the last slot clicked before them, per order day, slot and currency."""

    day = models.DateField()
    promotion_id = models.TextField()
    creative = models.TextField()
    position = models.TextField()
    currency = models.CharField(max_length=8)
    orders = models.IntegerField()
    revenue = models.DecimalField(max_digits=24, decimal_places=6, null=True)

    class Meta:
        indexes = [models.Index(fields=["day"], name="slotcredit_day_idx")]


class AffinityItemDay(models.Model):
    """Per day and level (product/category): orders holding the item; item "" counts all baskets."""

    day = models.DateField()
    level = models.CharField(max_length=8)
    item = models.TextField()
    baskets = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["day", "level"], name="affinityitem_day_idx")]


class AffinityPairDay(models.Model):
    """Per day and level: orders holding both a and b (both directions stored)."""

    day = models.DateField()
    level = models.CharField(max_length=8)
    a = models.TextField()
    b = models.TextField()
    baskets = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["day", "level"], name="affinitypair_day_idx")]


class RepurchaseFact(models.Model):
    """One category bought by a profile at `at` and next at `next_at` (its following order holding it)."""

    profile_id = models.BigIntegerField(db_index=True)
    category = models.TextField()
    at = models.DateTimeField()
    next_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["at"], name="repurchase_at_idx")]


__all__ = [
    "SpecEvent",
    "EventNameMapping",
    "AnalysisKind",
    "SavedAnalysis",
    "BehaviourAccess",
    "SearchSynonym",
    "RollupKind",
    "RollupDay",
    "RollupDirty",
    "SearchDay",
    "SearchCredit",
    "SlotDay",
    "SlotCredit",
    "AffinityItemDay",
    "AffinityPairDay",
    "RepurchaseFact",
]
