"""Audiences, their materialised membership with history, computed tags and the name catalogue."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from tracking.models import Profile


class AudienceKind(models.TextChoices):
    RULE = "rule", "Rule: members are the profiles the rule matches"
    STATIC = "static", "Static: members come from an uploaded list"


class Audience(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=8, choices=AudienceKind.choices, default=AudienceKind.RULE)
    rule = models.JSONField(default=dict, blank=True, help_text="The rule in the audience rule language.")
    refresh_every_minutes = models.PositiveIntegerField(
        default=60,
        help_text="Full refresh interval. Membership also follows events as they arrive; 0 = never in full.",
    )
    next_refresh_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # A lease: while in the future, one worker is refreshing this audience.
    refresh_leased_until = models.DateTimeField(null=True, blank=True)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    last_refresh_ms = models.PositiveIntegerField(null=True, blank=True)
    member_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AudienceMembership(models.Model):
    """One stay of a profile in an audience: open while exited_at is empty; history is kept."""

    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="memberships")
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="audience_memberships")
    entered_at = models.DateTimeField()
    exited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-entered_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["audience", "profile"],
                condition=Q(exited_at__isnull=True),
                name="membership_one_open_per_profile",
            )
        ]
        indexes = [
            models.Index(fields=["profile", "audience"], name="membership_profile_idx"),
            models.Index(
                fields=["audience", "profile"],
                condition=Q(exited_at__isnull=True),
                name="membership_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.profile_id} in {self.audience_id}"


class ComputedTag(models.Model):
    """A tag computed from behaviour (RFM segment, lifecycle stage, …); rules use it like a manual tag."""

    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="computed_tags")
    # The tag as rules name it, e.g. "rfm:champions", "lifecycle:active", "active_hour:20".
    name = models.CharField(max_length=100)
    family = models.CharField(max_length=40)
    value = models.CharField(max_length=100, blank=True, help_text="Detail, e.g. the RFM score 545.")
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["profile", "name"], name="computed_tag_unique")]
        indexes = [
            models.Index(fields=["name", "profile"], name="computed_tag_name_idx"),
            models.Index(fields=["family"], name="computed_tag_family_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class CatalogueKind(models.TextChoices):
    EVENT = "event", "Event name"
    TRAIT = "trait", "Trait"


class CatalogueEntry(models.Model):
    """Event names and top-level trait keys seen, so validation can warn about typos cheaply."""

    kind = models.CharField(max_length=8, choices=CatalogueKind.choices)
    name = models.CharField(max_length=200)
    last_seen_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "catalogue entries"
        constraints = [models.UniqueConstraint(fields=["kind", "name"], name="catalogue_unique_name")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.name}"


class StaticUpload(models.Model):
    """One CSV upload into a static audience and its match report."""

    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="uploads")
    file_name = models.CharField(max_length=255, blank=True)
    id_kind = models.CharField(max_length=16)
    replace = models.BooleanField(default=False)
    matched = models.PositiveIntegerField(default=0)
    unmatched = models.PositiveIntegerField(default=0)
    invalid = models.JSONField(default=list, blank=True, help_text="[{line, value, reason}]")
    unmatched_sample = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        "auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
