"""Templates, the outbox (messages, attempts, status timeline), suppressions, caps and provider settings."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from core.fields import EncryptedJSONField
from tracking.models import Channel, Profile


class Topic(models.TextChoices):
    MARKETING = "marketing", "Marketing"
    TRANSACTIONAL = "transactional", "Transactional"


class Template(models.Model):
    """A message design for one channel, written in Liquid, with locale variants."""

    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    topic = models.CharField(
        max_length=64, default=Topic.MARKETING, help_text="Default topic for messages from this template."
    )
    default_locale = models.CharField(
        max_length=35, default="en", help_text="Variant used when no variant matches the profile's locale."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_channel_display()})"


class TemplateVariant(models.Model):
    """The content of a template in one locale. Which fields are used depends on the channel."""

    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="variants")
    locale = models.CharField(max_length=35, help_text="e.g. en, de, pt-BR")
    subject = models.CharField(max_length=500, blank=True, help_text="Email subject (Liquid).")
    html = models.TextField(blank=True, help_text="Email HTML body (Liquid, output is HTML-escaped).")
    text = models.TextField(blank=True, help_text="Email plain-text body (Liquid).")
    body = models.TextField(blank=True, help_text="SMS / WhatsApp text, push body (Liquid).")
    title = models.CharField(max_length=500, blank=True, help_text="Push title (Liquid).")
    deep_link = models.CharField(max_length=1000, blank=True, help_text="Push deep link (Liquid).")
    image = models.CharField(max_length=1000, blank=True, help_text="Push image URL (Liquid).")
    json_body = models.TextField(blank=True, help_text="Webhook JSON body (Liquid producing JSON).")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["template", "locale"]
        constraints = [
            models.UniqueConstraint(fields=["template", "locale"], name="template_variant_unique_locale")
        ]

    def __str__(self) -> str:
        return f"{self.template.slug} [{self.locale}]"


class MessageStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DEFERRED = "deferred", "Deferred (quiet hours, rate limit)"
    SENDING = "sending", "Sending (leased by a worker)"
    SENT = "sent", "Sent (accepted by the provider)"
    DELIVERED = "delivered", "Delivered"
    OPENED = "opened", "Opened"
    CLICKED = "clicked", "Clicked"
    BOUNCED = "bounced", "Bounced"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped (not sent, see reason)"


class Reason(models.TextChoices):
    """Why a message was not sent (skipped) or not delivered (failed)."""

    UNSUBSCRIBED = "unsubscribed", "Unsubscribed / no consent"
    SUPPRESSED = "suppressed", "Address on the suppression list"
    NO_CONTACT_POINT = "no_contact_point", "No active contact point"
    CAPPED = "capped", "Frequency cap reached"
    RENDER_ERROR = "render_error", "Template render error"
    TEMPLATE_MISSING = "template_missing", "Template or variant missing"
    CHANNEL_DISABLED = "channel_disabled", "Channel not configured or disabled"
    PROVIDER_REJECTED = "provider_rejected", "Rejected by the provider"
    RETRIES_EXHAUSTED = "retries_exhausted", "Retries exhausted"
    IN_DOUBT = "in_doubt", "Worker died during the provider call; not resent"
    ADAPTER_ERROR = "adapter_error", "Error in Voyage's provider adapter"
    PROFILE_ERASED = "profile_erased", "Profile erased"


ACTIVE_STATUSES = (MessageStatus.PENDING, MessageStatus.DEFERRED, MessageStatus.SENDING)
# Statuses that mean the provider accepted the message (they count against frequency caps).
SENT_STATUSES = (
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.OPENED,
    MessageStatus.CLICKED,
    MessageStatus.BOUNCED,
)


class Message(models.Model):
    """One message to one profile on one channel: the outbox row and its current status."""

    # Indexed by message_cap_idx (profile first); a second index would only slow the outbox insert.
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="messages", db_index=False)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    template = models.ForeignKey(
        Template, on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )
    topic = models.CharField(max_length=64, default=Topic.MARKETING)
    data = models.JSONField(default=dict, blank=True, help_text="Custom data for the template.")
    status = models.CharField(max_length=16, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    skip_reason = models.CharField(max_length=32, choices=Reason.choices, blank=True, default="")
    error = models.TextField(blank=True, default="", help_text="The last error, in words.")
    campaign_kind = models.CharField(max_length=32, blank=True, default="")
    campaign_id = models.BigIntegerField(null=True, blank=True)
    stage_key = models.CharField(max_length=100, blank=True, default="")
    variant = models.CharField(max_length=100, blank=True, default="")
    # What the message was sent for, given by the caller at enqueue: a journey run, a broadcast
    # recipient. Plain ids, not foreign keys: channels sits below journeys and never names it. Reports
    # join on them (the idempotency key stays opaque). Null for every other message.
    run_id = models.BigIntegerField(null=True, blank=True, help_text="The journey run it was sent for.")
    broadcast_recipient_id = models.BigIntegerField(
        null=True, blank=True, help_text="The broadcast recipient row it was sent for."
    )
    # Unique through Meta.constraints: a plain unique=True would add a second (LIKE pattern) index.
    idempotency_key = models.CharField(max_length=255)
    send_at = models.DateTimeField(null=True, blank=True, help_text="Requested send time (UTC).")
    local_time = models.CharField(
        max_length=5, blank=True, default="", help_text="HH:MM in the recipient's time zone, if asked."
    )
    # When a worker should next look at it (send time, quiet-hours end, retry backoff).
    due_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=100, blank=True, default="")
    # Set when this message could not be handled on its own (core.setaside): the claim skips it until an
    # operator retries it from the admin's "Set-aside rows".
    set_aside_at = models.DateTimeField(null=True, blank=True)
    attempt_count = models.PositiveSmallIntegerField(default=0)
    address = models.CharField(max_length=1024, blank=True, default="", help_text="Where it was sent.")
    subject = models.CharField(max_length=500, blank=True, default="", help_text="Rendered subject/title.")
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True, help_text="When it was handed to a provider.")
    sent_at = models.DateTimeField(null=True, blank=True)
    cost = models.DecimalField(max_digits=12, decimal_places=5, null=True, blank=True)
    cost_currency = models.CharField(max_length=3, blank=True, default="")
    provider = models.CharField(max_length=32, blank=True, default="")
    provider_message_id = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="message_idempotency_key_unique")
        ]
        indexes = [
            models.Index(
                fields=["due_at"],
                condition=Q(status__in=["pending", "deferred"]),
                name="message_due_idx",
            ),
            models.Index(fields=["lease_until"], condition=Q(status="sending"), name="message_lease_idx"),
            models.Index(fields=["profile", "channel", "dispatched_at"], name="message_cap_idx"),
            models.Index(fields=["campaign_kind", "campaign_id", "status"], name="message_campaign_idx"),
            # Partial: rows of other kinds (null here) stay out of each index.
            models.Index(fields=["run_id"], condition=Q(run_id__isnull=False), name="message_run_idx"),
            models.Index(
                fields=["broadcast_recipient_id"],
                condition=Q(broadcast_recipient_id__isnull=False),
                name="message_bc_recipient_idx",
            ),
            # Only sent messages have a provider id: rows enter this index when they are sent, not
            # when they are enqueued.
            models.Index(
                fields=["provider", "provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="message_provider_id_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} message {self.pk} to profile {self.profile_id} ({self.status})"


class MessageAttempt(models.Model):
    """One try at handing a message to a provider. Written before the call, finished after it."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    provider = models.CharField(max_length=32)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(
        null=True, blank=True, help_text="Empty: the call's outcome is unknown."
    )
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    retryable = models.BooleanField(default=False)
    batch_size = models.PositiveIntegerField(default=1, help_text="Messages in the same provider request.")
    request_id = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["message", "number"]
        constraints = [
            models.UniqueConstraint(fields=["message", "number"], name="message_attempt_unique_number")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of message {self.message_id}"


class MessageEvent(models.Model):
    """The status timeline of a message: queued, sent, delivered, opened, … with the provider's data."""

    # Indexed by message_event_kind_idx (message first).
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events", db_index=False)
    kind = models.CharField(max_length=32)
    at = models.DateTimeField()
    data = models.JSONField(default=dict, blank=True)
    # The provider's id for this event (sg_event_id, CallSid+status, …): the same report is kept once.
    provider_event_id = models.CharField(max_length=255, null=True, blank=True)

    class Meta:
        ordering = ["message", "at", "id"]
        constraints = [
            # Partial: our own timeline rows (queued, skipped, …) have no provider id and stay out of it.
            models.UniqueConstraint(
                fields=["provider_event_id"],
                condition=Q(provider_event_id__isnull=False),
                name="message_event_provider_id_unique",
            )
        ]
        indexes = [models.Index(fields=["message", "kind"], name="message_event_kind_idx")]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%Y-%m-%d %H:%M:%S}"


class SuppressionReason(models.TextChoices):
    HARD_BOUNCE = "hard_bounce", "Hard bounce"
    SPAM = "spam", "Spam report"
    UNSUBSCRIBE = "unsubscribe", "Unsubscribed"
    OPT_OUT = "opt_out", "Opted out by SMS keyword (carrier-level: blocks every topic)"
    INVALID = "invalid", "Invalid address / token"
    MANUAL = "manual", "Added by an operator"


class Suppression(models.Model):
    """An address we must not send to. Unsubscribes block marketing only; the rest block everything."""

    channel = models.CharField(max_length=16, choices=Channel.choices)
    # Shown to operators; blanked when the person is erased (the row then lives on by its key alone).
    address = models.CharField(max_length=1024, blank=True)
    # HMAC of the normalised address (channels.suppressions.suppression_key): what every look-up uses.
    address_key = models.CharField(max_length=64, editable=False)
    reason = models.CharField(max_length=16, choices=SuppressionReason.choices)
    at = models.DateTimeField()
    detail = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["-at"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "address_key"], name="suppression_unique_address_key")
        ]

    def __str__(self) -> str:
        return f"{self.channel}: {self.address or '(erased address)'} ({self.reason})"

    @property
    def marketing_only(self) -> bool:
        return self.reason == SuppressionReason.UNSUBSCRIBE


class Provider(models.TextChoices):
    SANDBOX = "sandbox", "Sandbox (records messages, simulates results)"
    SENDGRID = "sendgrid", "SendGrid"
    TWILIO = "twilio", "Twilio"
    FCM = "fcm", "Firebase Cloud Messaging (HTTP v1)"
    WEBPUSH = "webpush", "Web Push (VAPID)"


class ChannelSettings(models.Model):
    """Which provider a channel sends through, its options, and its credentials (write-only)."""

    channel = models.CharField(max_length=16, choices=Channel.choices, unique=True)
    provider = models.CharField(max_length=16, choices=Provider.choices, default=Provider.SANDBOX)
    enabled = models.BooleanField(default=True)
    options = models.JSONField(
        default=dict,
        blank=True,
        help_text="Non-secret options: base_url, from_email, from_name, from_number, project_id, "
        'rate_per_second, quiet_hours (e.g. ["21:00", "08:00"]) …',
    )
    # Never displayed, never logged; the admin only lets you replace them. Encrypted at rest
    # (core/fields.py): a dict in Python, a Fernet token in the database.
    secrets = EncryptedJSONField(default=dict, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "channel settings"
        verbose_name_plural = "channel settings"

    def __str__(self) -> str:
        return f"{self.get_channel_display()} via {self.get_provider_display()}"

    def __repr__(self) -> str:  # secrets stay out of tracebacks and logs
        return f"<ChannelSettings {self.channel} provider={self.provider}>"


class CapScope(models.TextChoices):
    GLOBAL = "global", "All marketing messages"
    CAMPAIGN = "campaign", "Per campaign (journey or broadcast)"


class FrequencyCap(models.Model):
    """At most `max_messages` marketing messages per profile in `days` calendar days of their zone."""

    scope = models.CharField(max_length=16, choices=CapScope.choices, default=CapScope.GLOBAL)
    channel = models.CharField(
        max_length=16, choices=Channel.choices, blank=True, help_text="Empty: counts every channel together."
    )
    max_messages = models.PositiveIntegerField(default=3)
    days = models.PositiveIntegerField(default=7)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["scope", "channel"]

    def __str__(self) -> str:
        where = self.get_channel_display() if self.channel else "all channels"
        return f"{self.max_messages} per {self.days} days, {where}, {self.get_scope_display().lower()}"


class CallbackRejection(models.Model):
    """A provider callback we refused (bad signature, malformed): counted for the operator."""

    endpoint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=255)
    remote_addr = models.CharField(max_length=64, blank=True, default="")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]


class SandboxDelivery(models.Model):
    """What the sandbox provider 'sent': the demo's mailbox."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="sandbox_deliveries")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    to = models.CharField(max_length=1024)
    subject = models.CharField(max_length=500, blank=True, default="")
    body = models.TextField(blank=True, default="")
    headers = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "sandbox deliveries"
