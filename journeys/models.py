"""Journeys, their frozen versions, runs (one per profile entry) and broadcasts.

Reports (campaign reports are built on these tables) read conversion, variant, holdout and stage data
straight from Run and RunStep; messages carry campaign_kind/campaign_id/stage_key/variant in channels.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from tracking.models import Profile


class JourneyStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    ARCHIVED = "archived", "Archived"


class Journey(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=JourneyStatus.choices, default=JourneyStatus.DRAFT)
    # The published version new entries start on; earlier runs stay on theirs.
    live_version = models.ForeignKey(
        "JourneyVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Schedule entries: fire times up to this instant have been enrolled.
    schedule_checked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class JourneyVersion(models.Model):
    """A definition. Drafts can be edited; publishing freezes it forever."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField(default=dict)
    # Where the canvas draws each node ({"nodes": {"<stage key>" | "@entry": {"x": …, "y": …}}}); kept
    # beside the definition, not in it: moving a box is not a change the engine should ever see.
    layout = models.JSONField(default=dict, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["journey", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["journey", "number"], name="journey_version_unique_number"),
        ]

    def __str__(self) -> str:
        state = "published" if self.is_frozen else "draft"
        return f"{self.journey.slug} v{self.number} ({state})"

    @property
    def is_frozen(self) -> bool:
        return self.published_at is not None


class RunStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed (reached an exit stage)"
    EXITED = "exited", "Exited (exit condition or operator)"


class Run(models.Model):
    """One profile's pass through a journey, from one entry (event, audience entry, schedule tick)."""

    # journey and profile are indexed by the constraints and indexes below (they lead them); their own
    # FK indexes would be two more entries to write on every run update that is not HOT.
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="runs", db_index=False)
    version = models.ForeignKey(JourneyVersion, on_delete=models.PROTECT, related_name="runs")
    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="journey_runs", db_index=False
    )
    # What enrolled it ("event:123", "audience:vip:2026-…", "schedule:2026-…", "manual:…"): the same
    # trigger never enrolls twice.
    entry_key = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.ACTIVE)
    entered_at = models.DateTimeField()
    # "" until the engine has entered the first stage (entries are bulk inserts; actions run in the engine).
    stage_key = models.CharField(max_length=100, blank=True, default="")
    stage_entered_at = models.DateTimeField(null=True, blank=True)
    # How many stage visits so far: RunStep.seq of the current visit; keys idempotent side effects.
    visits = models.PositiveIntegerField(default=0)
    due_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True, default="")
    # Set when this run could not be handled on its own (core.setaside): the claim skips it until an
    # operator retries it from the admin's "Set-aside rows".
    set_aside_at = models.DateTimeField(null=True, blank=True)
    variant = models.CharField(max_length=100, blank=True, default="")
    holdout = models.BooleanField(default=False)
    goal_deadline = models.DateTimeField(null=True, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    conversion_event_id = models.BigIntegerField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "profile", "entry_key"], name="journey_run_unique_entry"
            ),
            # A profile is at most once at a time in a journey, whatever the re-entry policy.
            models.UniqueConstraint(
                fields=["journey", "profile"],
                condition=Q(status="active"),
                name="journey_run_one_active",
            ),
        ]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(status="active"), name="journey_run_due_idx"),
            models.Index(fields=["profile", "status"], name="journey_run_profile_idx"),
            models.Index(fields=["journey", "stage_key"], name="journey_run_stage_idx"),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} of {self.journey_id} for profile {self.profile_id}"


class RunStep(models.Model):
    """One stage visit (or the end of a run), with why it happened. seq is unique per run, so a run can
    never be advanced twice from the same visit: the second insert fails."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps", db_index=False)  # see Meta
    seq = models.PositiveIntegerField()
    stage_key = models.CharField(max_length=100)
    from_stage = models.CharField(max_length=100, blank=True, default="")
    reason = models.CharField(max_length=200)
    at = models.DateTimeField()
    detail = models.JSONField(default=dict, blank=True)
    # Which worker (host:pid:batch owner) wrote it: operators can trace a batch; tests check who did what.
    worker = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="journey_runstep_unique_seq")]
        indexes = [models.Index(fields=["stage_key", "at"], name="journey_runstep_stage_idx")]


class BroadcastStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    TESTING = "testing", "Test sent, waiting for a winner"
    SENT = "sent", "Sent"
    CANCELLED = "cancelled", "Cancelled"


class WinnerMetric(models.TextChoices):
    OPEN = "open", "Open rate"
    CLICK = "click", "Click rate"
    CONVERSION = "conversion", "Conversion rate"


class Broadcast(models.Model):
    """A send to an audience, once or on a schedule, optionally A/B/n tested on a share first."""

    name = models.CharField(max_length=200)
    audience_slug = models.SlugField(max_length=100)
    channel = models.CharField(max_length=16, default="email")
    topic = models.CharField(max_length=64, default="marketing")
    status = models.CharField(max_length=16, choices=BroadcastStatus.choices, default=BroadcastStatus.DRAFT)
    send_at = models.DateTimeField(null=True, blank=True, help_text="When the (next) send is due.")
    local_time = models.CharField(
        max_length=5, blank=True, help_text='"HH:MM": deliver at this time in each recipient\'s zone.'
    )
    recurrence = models.CharField(
        max_length=100, blank=True, help_text="Cron expression (workspace zone) for a recurring broadcast."
    )
    test_percent = models.PositiveSmallIntegerField(
        default=0, help_text="Send the variants to this share first; 0 sends the variants to everyone."
    )
    winner_metric = models.CharField(max_length=16, choices=WinnerMetric.choices, default=WinnerMetric.OPEN)
    winner_after_hours = models.PositiveIntegerField(default=4)
    conversion_event = models.CharField(max_length=200, blank=True)
    winner_variant = models.CharField(max_length=50, blank=True)
    winner_due_at = models.DateTimeField(null=True, blank=True)
    occurrence = models.PositiveIntegerField(default=0, help_text="How many sends have started.")
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.name


class BroadcastVariant(models.Model):
    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="variants")
    key = models.CharField(max_length=50)
    template_slug = models.SlugField(max_length=100)
    weight = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["broadcast", "key"]
        constraints = [models.UniqueConstraint(fields=["broadcast", "key"], name="broadcast_variant_unique")]

    def __str__(self) -> str:
        return f"{self.key}: {self.template_slug}"


class BroadcastRecipient(models.Model):
    """Who got which variant in which occurrence and phase; the winner phase skips everyone listed."""

    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="recipients")
    occurrence = models.PositiveIntegerField()
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="+")
    variant = models.CharField(max_length=50)
    phase = models.CharField(max_length=16, default="all")  # all | test | winner
    sent_at = models.DateTimeField()
    converted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["broadcast", "occurrence", "profile"], name="broadcast_recipient_unique"
            )
        ]
        indexes = [models.Index(fields=["broadcast", "occurrence", "variant"], name="broadcast_rcpt_var_idx")]
