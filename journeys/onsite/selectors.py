"""Results of an on-site message per arm (and its holdout): who saw it, closed, clicked, submitted,
converted (its goal event within goal_days of first seeing it, or of being held out) and the revenue
of those conversions per currency; the same significance test as the other campaign reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Count, Min
from django.utils import timezone

from journeys.onsite.models import Interaction, InteractionKind, Message
from journeys.reports.stats import Verdict, ab_verdict
from tracking.models import Event, Identity, IdentityKind


@dataclass
class ArmResult:
    arm: str
    impressions: int = 0  # views in all (a visitor may see it more than once)
    visitors: int = 0  # saw it (or, for the holdout, were held out)
    closes: int = 0
    clicks: int = 0
    submits: int = 0
    conversions: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)  # per currency, never added across

    @property
    def conversion_rate(self) -> float | None:
        return self.conversions / self.visitors if self.visitors else None


@dataclass
class MessageResults:
    arms: list[ArmResult]
    verdict: Verdict
    metric: str


def _visitor(row: dict[str, Any]) -> str:
    return f"p{row['profile_id']}" if row["profile_id"] else f"a{row['anonymous_id']}"


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def message_results(
    *, message: Message, start: date | None = None, end: date | None = None
) -> MessageResults:
    """Per arm; `start`/`end` (inclusive days, the workspace's zone) limit the interactions counted."""
    interactions = Interaction.objects.filter(message=message)
    if start:
        interactions = interactions.filter(at__gte=_day_start(start))
    if end:
        interactions = interactions.filter(at__lt=_day_start(end + timedelta(days=1)))
    views = dict(
        interactions.filter(kind=InteractionKind.VIEW).values_list("arm").annotate(n=Count("id")).order_by()
    )
    rows = list(interactions.values("arm", "kind", "profile_id", "anonymous_id").annotate(first=Min("at")))
    # A browser's first view may come before its anonymous id had a profile: count it as the person
    # it now belongs to, so one visitor is one visitor and a later conversion is theirs.
    unresolved = {r["anonymous_id"] for r in rows if not r["profile_id"] and r["anonymous_id"]}
    if unresolved:
        resolved = dict(
            Identity.objects.filter(kind=IdentityKind.ANONYMOUS_ID, value__in=unresolved).values_list(
                "value", "profile_id"
            )
        )
        for row in rows:
            if not row["profile_id"]:
                row["profile_id"] = resolved.get(row["anonymous_id"])
    by_arm: dict[str, ArmResult] = {}
    exposed: dict[str, dict[str, Any]] = {}  # visitor -> {arm, first, profile_id}
    seen_kind: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        who = _visitor(row)
        arm = by_arm.setdefault(row["arm"], ArmResult(row["arm"]))
        seen_kind.setdefault((row["arm"], row["kind"]), set()).add(who)
        if row["kind"] in (InteractionKind.VIEW, InteractionKind.HOLDOUT):
            current = exposed.get(who)
            if current is None or row["first"] < current["first"]:
                exposed[who] = {"arm": arm.arm, "first": row["first"], "profile_id": row["profile_id"]}
    for (arm_name, kind), visitors in seen_kind.items():
        arm = by_arm[arm_name]
        if kind in (InteractionKind.VIEW, InteractionKind.HOLDOUT):
            arm.visitors = len(visitors)
        elif kind == InteractionKind.CLOSE:
            arm.closes = len(visitors)
        elif kind == InteractionKind.CLICK:
            arm.clicks = len(visitors)
        elif kind == InteractionKind.SUBMIT:
            arm.submits = len(visitors)
    if message.goal_event:
        by_profile = {e["profile_id"]: e for e in exposed.values() if e["profile_id"]}
        if by_profile:
            goals = Event.objects.filter(
                profile_id__in=list(by_profile), name=message.goal_event
            ).values_list("profile_id", "timestamp", "properties")
            converted: set[int] = set()
            for profile_id, at, props in goals.order_by("timestamp"):
                exp = by_profile[profile_id]
                if profile_id in converted or not message.converts(first_seen=exp["first"], at=at):
                    continue
                converted.add(profile_id)
                arm = by_arm[exp["arm"]]
                arm.conversions += 1
                try:
                    amount = Decimal(str((props or {}).get("revenue", (props or {}).get("total", 0)) or 0))
                except InvalidOperation:
                    amount = Decimal(0)
                currency = str((props or {}).get("currency") or "?").upper()
                if amount:
                    arm.revenue[currency] = arm.revenue.get(currency, Decimal(0)) + amount
    for arm in by_arm.values():
        arm.impressions = views.get(arm.arm, 0)
    arms = sorted(by_arm.values(), key=lambda a: (a.arm == "holdout", a.arm))
    metric = (
        "conversion"
        if message.goal_event
        else ("submit" if message.form_email or message.form_phone else "click")
    )
    value = {"conversion": "conversions", "submit": "submits", "click": "clicks"}[metric]
    verdict = ab_verdict(
        [(a.arm, getattr(a, value), a.visitors) for a in arms if a.arm != "holdout"], metric=f"{metric}_rate"
    )
    return MessageResults(arms=arms, verdict=verdict, metric=metric)
