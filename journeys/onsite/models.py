"""On-site messages: pop-ups, slide-ins, bars and embedded blocks on the shop's own pages.

A message belongs to one source (the shop's site, by its write key), has A/B/n arms of content (each
arm in one or more locales), a trigger the snippet watches for, targeting the server checks, and
frequency caps the server enforces from the interactions it recorded.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class Kind(models.TextChoices):
    MODAL = "modal", "Modal pop-up"
    SLIDE_IN = "slide_in", "Slide-in (corner)"
    BAR_TOP = "bar_top", "Bar at the top"
    BAR_BOTTOM = "bar_bottom", "Bar at the bottom"
    EMBEDDED = "embedded", "Embedded block (into a CSS selector)"


# Kinds that interrupt: at most one of them per page view, and a minimum gap between them.
POPUP_KINDS = (Kind.MODAL, Kind.SLIDE_IN)


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"


class Trigger(models.TextChoices):
    PAGE_LOAD = "page_load", "On page load"
    DELAY = "delay", "After N seconds on the page"
    PAGES = "pages", "After N pages in the session"
    SCROLL = "scroll", "At a scroll depth"
    EXIT_INTENT = "exit_intent", "On exit intent (desktop)"
    EVENT = "event", "After an event in the session"


class Device(models.TextChoices):
    ANY = "any", "Any device"
    DESKTOP = "desktop", "Desktop"
    MOBILE = "mobile", "Mobile"


class Visitor(models.TextChoices):
    ANY = "any", "Anyone"
    NEW = "new", "New visitors (first session)"
    RETURNING = "returning", "Returning visitors"


class Who(models.TextChoices):
    ANY = "any", "Anyone"
    ANONYMOUS = "anonymous", "Only visitors we do not know (no email, phone or user id)"
    KNOWN = "known", "Only known profiles"


def goal_converts(*, first_seen: datetime, at: datetime, goal_days: int) -> bool:
    """Whether a goal event at `at` converts a visitor who first saw a message (or was held out) at
    `first_seen`: the one definition the results, the decide path and the conversion cap share."""
    return first_seen <= at <= first_seen + timedelta(days=goal_days)


class Message(models.Model):
    name = models.CharField(max_length=200, unique=True)
    source = models.ForeignKey(
        "tracking.Source",
        on_delete=models.PROTECT,
        related_name="onsite_messages",
        help_text="The site (its write key) whose pages show this message.",
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.MODAL)
    embed_selector = models.CharField(
        max_length=200,
        blank=True,
        help_text="Embedded blocks: CSS selector of the element to fill, e.g. #offer.",
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    priority = models.IntegerField(default=0, help_text="Higher first when several pop-ups qualify.")

    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.PAGE_LOAD)
    trigger_seconds = models.PositiveIntegerField(null=True, blank=True, help_text="Delay trigger: seconds.")
    trigger_pages = models.PositiveIntegerField(null=True, blank=True, help_text="Pages trigger: page views.")
    trigger_scroll_percent = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    trigger_event = models.CharField(
        max_length=200, blank=True, help_text="Event trigger: the track event, e.g. Product Added."
    )
    trigger_unless_event = models.CharField(
        max_length=200,
        blank=True,
        help_text="…and show only if this one did not follow, e.g. Checkout Started.",
    )
    trigger_wait_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="…within this many minutes (the message waits that long)."
    )

    url_rules = models.JSONField(
        default=list,
        blank=True,
        help_text='[{"match": "contains|equals|regex", "value": "/products/", "exclude": false}, …]: '
        "every include rule (if any) must match one, no exclude rule may match.",
    )
    device = models.CharField(max_length=8, choices=Device.choices, default=Device.ANY)
    visitor = models.CharField(max_length=10, choices=Visitor.choices, default=Visitor.ANY)
    who = models.CharField(max_length=10, choices=Who.choices, default=Who.ANY)
    utm_source = models.CharField(max_length=200, blank=True, help_text="Only visits with this utm_source.")
    audience = models.ForeignKey(
        "audiences.Audience",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="onsite_messages",
        help_text="Only members (known profiles).",
    )
    required_tags = models.JSONField(
        default=list, blank=True, help_text='Profile tags all required, e.g. ["coupon_sensitive"].'
    )

    once_per_session = models.BooleanField(default=True)
    min_days_between = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most once every N days."
    )
    max_views = models.PositiveIntegerField(null=True, blank=True, help_text="At most N views in all.")
    stop_after_submit = models.BooleanField(default=True)
    stop_after_click = models.BooleanField(default=False)
    stop_after_conversion = models.BooleanField(
        default=False,
        help_text="Stop showing it to a profile that converted: the goal event within the goal's days "
        "of first seeing it (needs a goal event; known profiles).",
    )

    holdout_percent = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(50)], help_text="Visitors who qualify but are shown nothing."
    )
    goal_event = models.CharField(
        max_length=200, blank=True, help_text="Conversion: this event, e.g. Order Completed."
    )
    goal_days = models.PositiveIntegerField(default=7)

    form_email = models.BooleanField(default=False, help_text="Ask for an email address.")
    form_phone = models.BooleanField(default=False, help_text="Ask for a phone number (E.164).")
    consents = models.JSONField(
        default=list,
        blank=True,
        help_text='Consent checkboxes: [{"channel": "email", "topic": "marketing", "label": "Email me offers"}].',
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-priority", "name"]
        verbose_name = "on-site message"

    def __str__(self) -> str:
        return self.name

    def converts(self, *, first_seen: datetime, at: datetime) -> bool:
        """Whether a goal event at `at` converts a visitor who first saw the message (or was held
        out) at `first_seen`: the one definition results (selectors) and the conversion cap share."""
        return goal_converts(first_seen=first_seen, at=at, goal_days=self.goal_days)


class Variant(models.Model):
    """The content of one A/B arm in one locale. Text fields are Liquid; output is escaped."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="variants")
    arm = models.CharField(max_length=16, default="A", help_text="A/B/n arm, e.g. A, B.")
    weight = models.PositiveIntegerField(default=1, help_text="Share of traffic, relative to the other arms.")
    locale = models.CharField(max_length=35, default="en")
    headline = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    image_url = models.URLField(max_length=1000, blank=True)
    coupon_code = models.CharField(max_length=100, blank=True)
    cta_label = models.CharField(max_length=100, blank=True)
    cta_url = models.CharField(
        max_length=1000, blank=True, help_text="https://… or a path on the shop, e.g. /sale"
    )
    submit_label = models.CharField(max_length=100, blank=True, default="Sign up")
    success_text = models.CharField(max_length=300, blank=True, default="Thank you!")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["message", "arm", "locale"]
        constraints = [
            models.UniqueConstraint(fields=["message", "arm", "locale"], name="onsite_variant_unique")
        ]

    def __str__(self) -> str:
        return f"{self.arm}/{self.locale}"


class InteractionKind(models.TextChoices):
    VIEW = "view", "Viewed"
    CLOSE = "close", "Closed"
    CLICK = "click", "Clicked"
    SUBMIT = "submit", "Submitted"
    HOLDOUT = "holdout", "Held out"


# The tracking event each interaction becomes on the profile (properties message_id, message_name, arm,
# kind): audiences use them, and journeys branch on them (journeys.definition.onsite_event_match).
EVENT_NAMES = {
    InteractionKind.VIEW: "Onsite Message Viewed",
    InteractionKind.CLOSE: "Onsite Message Closed",
    InteractionKind.CLICK: "Onsite Message Clicked",
    InteractionKind.SUBMIT: "Onsite Message Submitted",
}


class Interaction(models.Model):
    """What a visitor did with a message; the source of caps and results."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="interactions")
    arm = models.CharField(max_length=16)
    kind = models.CharField(max_length=8, choices=InteractionKind.choices)
    profile = models.ForeignKey(
        "tracking.Profile", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    anonymous_id = models.CharField(max_length=255, blank=True)
    session_id = models.CharField(max_length=64, blank=True)
    page_view_id = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(
                fields=["profile", "at"], name="onsite_inter_profile_idx", condition=Q(profile__isnull=False)
            ),
            models.Index(fields=["anonymous_id", "at"], name="onsite_inter_anon_idx"),
            models.Index(fields=["message", "kind", "arm"], name="onsite_inter_results_idx"),
        ]


class SubmissionStatus(models.TextChoices):
    PENDING = "pending", "Waiting for the profile"
    APPLIED = "applied", "Contact point and consent recorded"


class Submission(models.Model):
    """A form submit, kept until its identify has been resolved to a profile and consent recorded."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="submissions")
    arm = models.CharField(max_length=16)
    anonymous_id = models.CharField(max_length=255)
    email = models.CharField(max_length=320, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    consents = models.JSONField(
        default=list, help_text='[{"channel": "email", "topic": "marketing", "granted": true}]'
    )
    status = models.CharField(
        max_length=8, choices=SubmissionStatus.choices, default=SubmissionStatus.PENDING
    )
    profile = models.ForeignKey(
        "tracking.Profile", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    # When a pass last found no profile for it yet: those wait behind the ones never looked at, so
    # submits whose identify never resolves cannot fill the head of the queue.
    checked_at = models.DateTimeField(null=True, blank=True)
    # Set when applying it failed on its own (core.setaside): the queue goes on without it.
    set_aside_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["id"], condition=Q(status="pending"), name="onsite_submission_pending")
        ]


class QueuedMessage(models.Model):
    """A journey's "show on-site message M on the next visit" for one profile (journeys/onsite/queue.py).

    The next decide for the profile offers the message past its audience targeting, until the profile
    has viewed it after `queued_at` or `expires_at` passes. One row per run step and action (`key`), so
    a retried journey batch queues nothing twice."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="queued")
    profile = models.ForeignKey("tracking.Profile", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200, unique=True, help_text="journey-run:<run>:visit:<n>:action:<i>")
    journey = models.ForeignKey(
        "journeys.Journey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    run_id = models.BigIntegerField(null=True, blank=True)
    stage_key = models.CharField(max_length=100, blank=True)
    queued_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-queued_at", "-id"]
        verbose_name = "queued on-site message"
        indexes = [
            # Decide's one look-up per known visitor, answered from the index alone.
            models.Index(
                fields=["profile", "expires_at"],
                include=["message", "queued_at"],
                name="onsite_queued_profile_idx",
            ),
            # The prune of expired rows.
            models.Index(fields=["expires_at"], name="onsite_queued_expires_idx"),
        ]

    def __str__(self) -> str:
        return f"message {self.message_id} for profile {self.profile_id}"
