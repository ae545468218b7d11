"""Outgoing partner webhooks: endpoints, one durable delivery per (event, endpoint), every attempt."""

from __future__ import annotations

from django.db import models

from core.fields import EncryptedTextField


class Endpoint(models.Model):
    """A partner URL subscribed to event types, with its Standard Webhooks signing secret(s)."""

    url = models.URLField(max_length=2000, help_text="https://… where the partner receives POSTs.")
    description = models.CharField(max_length=255, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=255, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Event type names this endpoint receives; ["*"] means every event type.
    event_types = models.JSONField(default=list, blank=True)
    # "whsec_<base64>" secrets. Never shown after the one-time reveal, never logged or serialised;
    # encrypted at rest (core/fields.py), plain text only in Python.
    secret = EncryptedTextField(editable=False)
    previous_secret = EncryptedTextField(blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Start of the current run of failures (cleared by any success); long runs disable the endpoint.
    failing_since = models.DateTimeField(null=True, blank=True)
    rate_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many deliveries per second (empty: no limit)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.description or self.url

    def __repr__(self) -> str:
        # The default repr is fine, but spelling it out guarantees secrets never reach a log line.
        return f"<Endpoint {self.pk} {self.url}>"

    def subscribes_to(self, event_type: str) -> bool:
        return "*" in self.event_types or event_type in self.event_types


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed (not retried)"
    DEAD = "dead", "Dead (retries exhausted)"


class Delivery(models.Model):
    """One event for one endpoint. `webhook_id` is the Standard Webhooks idempotency key partners see."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=100)
    idempotency_key = models.CharField(max_length=255)
    webhook_id = models.CharField(max_length=64, unique=True)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Attempts made, replays included.")
    # `attempts` when the delivery was last (re)queued: the retry schedule restarts after a replay.
    round_start_attempt = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # Set when this delivery could not be handled on its own (core.setaside): the claim skips it until an
    # operator retries it from the admin's "Set-aside rows".
    set_aside_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "idempotency_key"], name="partner_delivery_once"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="partner_delivery_due",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.webhook_id})"


class DeliveryAttempt(models.Model):
    """One HTTP request for a delivery and what came back."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_snippet = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)
    outcome = models.CharField(max_length=20, blank=True, help_text="succeeded, retry, failed or dead")

    class Meta:
        ordering = ["delivery_id", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"
