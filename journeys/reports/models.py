"""Campaign reports: hourly rollups and the bookkeeping that keeps them equal to the raw rows.

Rollups are additive: every figure in a row is a sum, so any date range, any grouping and any time
zone (UTC, workspace, or each recipient's own) is a GROUP BY over rows. How each figure is derived
from raw rows is in journeys/reports/facts.py and docs/reports.md.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from tracking.analytics.money import currency_is_known
from tracking.models import Channel


def currency_clean(obj: models.Model) -> None:
    """A currency code is upper case and known (ISO 4217); blank means the workspace currency."""
    obj.currency = (obj.currency or "").strip().upper()
    if obj.currency and not currency_is_known(obj.currency):
        raise ValidationError({"currency": f"{obj.currency!r} is not an ISO 4217 currency code"})


class ReportAccess(models.Model):
    """Holds the "view reports" permission; no table."""

    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = "report page"
        verbose_name_plural = "report pages (overview of every campaign)"
        permissions = [("view_reports", "Can view campaign reports")]


# Figures stored per rollup row; all are sums. Kept in one list so SQL, reads and tests agree.
COUNT_METRICS = [
    "entered",  # journey runs (treated) / broadcast recipients
    "holdout_entered",
    "stage_entered",  # journey stage visits
    "targeted",  # messages created
    "skip_unsubscribed",
    "skip_suppressed",
    "skip_no_contact_point",
    "skip_capped",
    "skip_render_error",
    "skip_provider_rejected",
    "skip_other",
    "deferred_quiet_hours",
    "sent",
    "delivered",
    "bounced",
    "failed",
    "opens_total",
    "opens_unique",
    "clicks_total",
    "clicks_unique",
    "unsubscribes",
    "spam_reports",
    "conv_last",
    "conv_first",
    "holdout_conversions",
]
DECIMAL_METRICS = [
    "conv_linear",
    "revenue_last",
    "revenue_first",
    "revenue_linear",
    "holdout_revenue",
    "cost_provider",
]
METRICS = COUNT_METRICS + DECIMAL_METRICS
# `currency` is the ISO code of the money figures (revenue, provider cost) of a row: money of two
# currencies never shares a row, so no sum adds them; "" is the workspace currency (money given
# without a currency) or a row without money.
DIMENSIONS = ["campaign_kind", "campaign_id", "stage_key", "variant", "channel", "template_id", "currency"]


class HourlyRollup(models.Model):
    """Sums for one campaign slice in one UTC hour and one recipient-local hour.

    `local_hour` is the wall-clock hour in the recipient's zone, stored as if it were UTC (a naive
    time): 09:00 in Tokyo and 09:00 in São Paulo share one local_hour value.
    """

    campaign_kind = models.CharField(max_length=32)
    campaign_id = models.BigIntegerField()
    stage_key = models.CharField(max_length=100, default="")
    variant = models.CharField(max_length=100, default="")
    channel = models.CharField(max_length=16, default="")
    template_id = models.BigIntegerField(default=0, help_text="0: no template (entries, conversions).")
    currency = models.CharField(
        max_length=3,
        default="",
        blank=True,
        help_text="Currency of this row's money; '' = workspace currency.",
    )
    hour = models.DateTimeField()
    local_hour = models.DateTimeField()

    entered = models.BigIntegerField(default=0)
    holdout_entered = models.BigIntegerField(default=0)
    stage_entered = models.BigIntegerField(default=0)
    targeted = models.BigIntegerField(default=0)
    skip_unsubscribed = models.BigIntegerField(default=0)
    skip_suppressed = models.BigIntegerField(default=0)
    skip_no_contact_point = models.BigIntegerField(default=0)
    skip_capped = models.BigIntegerField(default=0)
    skip_render_error = models.BigIntegerField(default=0)
    skip_provider_rejected = models.BigIntegerField(default=0)
    skip_other = models.BigIntegerField(default=0)
    deferred_quiet_hours = models.BigIntegerField(default=0)
    sent = models.BigIntegerField(default=0)
    delivered = models.BigIntegerField(default=0)
    bounced = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)
    opens_total = models.BigIntegerField(default=0)
    opens_unique = models.BigIntegerField(default=0)
    clicks_total = models.BigIntegerField(default=0)
    clicks_unique = models.BigIntegerField(default=0)
    unsubscribes = models.BigIntegerField(default=0)
    spam_reports = models.BigIntegerField(default=0)
    conv_last = models.BigIntegerField(default=0)
    conv_first = models.BigIntegerField(default=0)
    holdout_conversions = models.BigIntegerField(default=0)
    conv_linear = models.DecimalField(max_digits=20, decimal_places=6, default=0)
    revenue_last = models.DecimalField(max_digits=20, decimal_places=6, default=0)
    revenue_first = models.DecimalField(max_digits=20, decimal_places=6, default=0)
    revenue_linear = models.DecimalField(max_digits=20, decimal_places=6, default=0)
    holdout_revenue = models.DecimalField(max_digits=20, decimal_places=6, default=0)
    cost_provider = models.DecimalField(max_digits=20, decimal_places=6, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[*DIMENSIONS, "hour", "local_hour"], name="report_rollup_unique_slice"
            )
        ]
        indexes = [
            models.Index(fields=["campaign_kind", "campaign_id", "hour"], name="report_rollup_hour_idx")
        ]


class RollupCursor(models.Model):
    """How far the fold has read one source table: every id <= position is folded except the open
    gaps (ids not visible yet when the fold passed them: a transaction still running, or rolled back).
    gaps: [[lo, hi, first_seen_epoch], …]; a gap is re-read on every fold until it expires."""

    source = models.CharField(max_length=32, primary_key=True)
    position = models.BigIntegerField(default=0)
    gaps = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)


class ConversionFact(models.Model):
    """A conversion already folded into the rollups (one per journey run / broadcast recipient)."""

    source = models.CharField(max_length=16)  # run | recipient
    source_id = models.BigIntegerField()
    campaign_kind = models.CharField(max_length=32)
    campaign_id = models.BigIntegerField()
    converted_at = models.DateTimeField()
    revenue = models.DecimalField(max_digits=20, decimal_places=6, default=0)
    currency = models.CharField(max_length=3, default="", blank=True)
    holdout = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "source_id"], name="report_conversion_unique_source")
        ]


class PendingProfile(models.Model):
    """A profile with fresh events: its runs and broadcast receipts are checked for conversions on
    the next folds (journeys record goals a moment after the events are processed)."""

    profile_id = models.BigIntegerField(primary_key=True)
    at = models.DateTimeField()


class MessageCost(models.Model):
    """The provider-reported price already folded for a message (prices can arrive after the send)."""

    message_id = models.BigIntegerField(primary_key=True)
    amount = models.DecimalField(max_digits=20, decimal_places=6)
    campaign_kind = models.CharField(max_length=32)
    campaign_id = models.BigIntegerField()
    stage_key = models.CharField(max_length=100, default="")
    variant = models.CharField(max_length=100, default="")
    channel = models.CharField(max_length=16, default="")
    template_id = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, default="", blank=True)
    hour = models.DateTimeField()
    local_hour = models.DateTimeField()


class MessageFirst(models.Model):
    """The id of the first open (or click) already folded per message, so a fold or a live read
    decides "is this the first?" with one primary-key look-up instead of reading the timeline."""

    message_id = models.BigIntegerField(primary_key=True)
    first_open_id = models.BigIntegerField(null=True)
    first_click_id = models.BigIntegerField(null=True)


class ChannelCost(models.Model):
    """A configured price per sent message on a channel, for providers that do not report one."""

    channel = models.CharField(max_length=16, choices=Channel.choices)
    amount = models.DecimalField(max_digits=12, decimal_places=6, help_text="Per sent message.")
    currency = models.CharField(
        max_length=3,
        blank=True,
        default="",
        help_text="ISO code of the amount (blank: the workspace currency). Converted at each day's rate.",
    )
    valid_from = models.DateField(help_text="Applies to messages sent on or after this day (UTC).")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["channel", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "valid_from"], name="report_channel_cost_unique_day")
        ]

    def __str__(self) -> str:
        return f"{self.channel}: {self.amount} {self.currency or ''} per message from {self.valid_from}"

    def clean(self) -> None:
        currency_clean(self)


class CampaignKind(models.TextChoices):
    JOURNEY = "journey", "Journey"
    BROADCAST = "broadcast", "Broadcast"


class CampaignSpend(models.Model):
    """Money spent on a campaign outside the providers (design, ads pointing at it, agency fees)."""

    campaign_kind = models.CharField(max_length=32, choices=CampaignKind.choices)
    campaign_id = models.BigIntegerField()
    day = models.DateField(help_text="Counted in date ranges that include this day (UTC).")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(
        max_length=3,
        blank=True,
        default="",
        help_text="ISO code of the amount (blank: the workspace currency). Converted at the day's rate.",
    )
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.campaign_kind} {self.campaign_id}: {self.amount} {self.currency or ''} on {self.day}"

    def clean(self) -> None:
        currency_clean(self)
