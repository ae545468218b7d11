"""Profiles, their identities, contact points and consent, sources and the events they send."""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q


def new_write_key() -> str:
    return secrets.token_urlsafe(24)


class Source(models.Model):
    """Where events come from: a website, an app, a server, a marketplace import."""

    name = models.CharField(max_length=100, unique=True)
    write_key = models.CharField(max_length=100, unique=True, default=new_write_key)
    enabled = models.BooleanField(default=True)
    rate_limit_per_second = models.PositiveIntegerField(
        null=True, blank=True, help_text="Messages per second this source may send; empty means no limit."
    )
    # Web origins (scheme://host[:port]) whose pages may send with this write key from a browser (CORS).
    # Empty: no browser may; server-side and mobile SDKs send no Origin and are unaffected.
    allowed_origins = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Profile(models.Model):
    """One person, however many ids, devices and marketplaces they reach us through."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    first_seen_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True, db_index=True)
    traits = models.JSONField(default=dict, blank=True)
    # When each top-level trait last changed (ISO 8601), so merges keep the newest value.
    trait_updated_at = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)
    timezone = models.CharField(max_length=64, blank=True, help_text="IANA zone, e.g. Europe/Berlin")
    locale = models.CharField(max_length=35, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        name = self.traits.get("name") or self.traits.get("email") or ""
        return f"Profile {self.pk}" + (f" ({name})" if name else "")


class IdentityKind(models.TextChoices):
    USER_ID = "user_id", "User id"
    ANONYMOUS_ID = "anonymous_id", "Anonymous id"
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone (E.164)"
    EXTERNAL = "external", "External id"


class Identity(models.Model):
    """A key that identifies a profile. Each key belongs to exactly one profile."""

    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=16, choices=IdentityKind.choices)
    # For external ids: whose id it is (e.g. amazon_buyer_id); empty for the other kinds.
    namespace = models.CharField(max_length=64, blank=True, default="")
    value = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "identities"
        constraints = [
            models.UniqueConstraint(fields=["kind", "namespace", "value"], name="identity_unique_key"),
        ]
        indexes = [models.Index(fields=["value"], name="identity_value_idx")]

    def __str__(self) -> str:
        label = f"{self.kind}:{self.namespace}" if self.namespace else self.kind
        return f"{label}={self.value}"


class IdentityConflict(models.Model):
    """Two profiles that an event tied together but that carry different user ids: never merged silently."""

    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="identity_conflicts")
    other_profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=IdentityKind.choices)
    value = models.CharField(max_length=255)
    event = models.ForeignKey("Event", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    detail = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]


class ProfileMerge(models.Model):
    """The record of one profile folded into another: old ids keep resolving to the survivor."""

    survivor = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="merges")
    merged_profile_id = models.BigIntegerField(db_index=True)
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    WHATSAPP = "whatsapp", "WhatsApp"
    PUSH = "push", "Mobile push"
    WEBPUSH = "webpush", "Web push"
    WEBHOOK = "webhook", "Webhook"


class ContactPoint(models.Model):
    """An address a profile can be reached at on one channel."""

    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="contact_points")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    address = models.CharField(max_length=1024, help_text="Email, E.164 phone, push token or URL")
    is_primary = models.BooleanField(default=True)
    active = models.BooleanField(default=True, help_text="False once a provider reports it invalid.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["profile", "channel", "address"], name="contact_point_unique"),
        ]
        indexes = [models.Index(fields=["channel", "address"], name="contact_point_address_idx")]

    def __str__(self) -> str:
        return f"{self.channel}: {self.address}"


class ConsentStatus(models.TextChoices):
    GRANTED = "granted", "Granted"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Consent(models.Model):
    """The current consent of a profile for one channel and topic, with when and how it was given."""

    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    topic = models.CharField(max_length=64, default="marketing")
    status = models.CharField(max_length=16, choices=ConsentStatus.choices)
    changed_at = models.DateTimeField()
    method = models.CharField(
        max_length=64, help_text="How it was given or withdrawn: form, api, import, sms_keyword, …"
    )
    detail = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["profile", "channel", "topic"], name="consent_unique_topic"),
        ]

    def __str__(self) -> str:
        return f"{self.channel}/{self.topic}: {self.status}"


class ConsentChange(models.Model):
    """Consent history: every grant and withdrawal, never overwritten."""

    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="consent_changes")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    topic = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=ConsentStatus.choices)
    changed_at = models.DateTimeField()
    method = models.CharField(max_length=64)
    detail = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]


class EventType(models.TextChoices):
    IDENTIFY = "identify"
    TRACK = "track"
    PAGE = "page"
    SCREEN = "screen"
    GROUP = "group"
    ALIAS = "alias"


class Event(models.Model):
    """One Segment-spec message as received, plus the profile it was resolved to."""

    # No single-column indexes on the two foreign keys: the (source, message_id) constraint and the
    # (profile, timestamp) index lead with them, and every extra index slows ingestion.
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="events", db_index=False)
    message_id = models.CharField(max_length=200)
    type = models.CharField(max_length=16, choices=EventType.choices)
    # track: the event name; page/screen: the page or screen name; otherwise empty.
    name = models.CharField(max_length=200, blank=True, default="")
    user_id = models.CharField(max_length=255, blank=True, default="")
    anonymous_id = models.CharField(max_length=255, blank=True, default="")
    group_id = models.CharField(max_length=255, blank=True, default="")
    previous_id = models.CharField(max_length=255, blank=True, default="")
    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, null=True, blank=True, related_name="events", db_index=False
    )
    properties = models.JSONField(default=dict, blank=True)
    traits = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    original_timestamp = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField()
    # The best estimate of when it happened: receivedAt corrected for the sender's clock skew.
    timestamp = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)
    # Set when processing could not handle this event on its own (core.setaside): the processor
    # skips it until an operator retries it from the admin's "Set-aside rows".
    set_aside_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-timestamp", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "message_id"], name="event_unique_message"),
        ]
        indexes = [
            models.Index(fields=["profile", "timestamp"], name="event_profile_ts_idx"),
            # Audience rules probe one profile's events of one name in a window (incremental
            # re-evaluation), and scan one event name over a window for everyone (full refresh).
            models.Index(fields=["profile", "name", "timestamp"], name="event_profile_name_ts_idx"),
            # Covering for behaviour analytics too: a funnel reads its step events of a date range
            # with an index-only scan, ordered per profile by (timestamp, id).
            models.Index(
                fields=["name", "timestamp"], include=["profile", "id"], name="event_name_ts_cover_idx"
            ),
            # Newest-first listings (the events API, the admin's date drill-down) on a large table.
            models.Index(fields=["timestamp", "id"], name="event_ts_id_idx"),
            models.Index(fields=["id"], condition=Q(processed_at__isnull=True), name="event_pending_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.name}".strip()


class ImportFormat(models.TextChoices):
    AMAZON = "amazon", "Amazon order report (tab-separated flat file)"
    CSV = "csv", "CSV with a column mapping"
    JSONL = "jsonl", "JSON lines"


class OrderImport(models.Model):
    """One order import (from the admin or the command) and what it did."""

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="imports")
    format = models.CharField(max_length=16, choices=ImportFormat.choices)
    file = models.FileField(upload_to="imports/%Y/%m/", blank=True)
    file_name = models.CharField(max_length=255, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        "auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_format_display()} import {self.file_name}"
