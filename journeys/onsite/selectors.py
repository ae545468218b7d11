"""Results of an on-site message per arm (and its holdout): who saw it, closed, clicked, submitted,
converted (its goal event within goal_days of first seeing it, or of being held out) and the revenue
of those conversions per currency; the same significance test as the other campaign reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Min

from journeys.onsite.models import Interaction, InteractionKind, Message
from journeys.reports.stats import Verdict, ab_verdict
from tracking.models import Event


@dataclass
class ArmResult:
    arm: str
    visitors: int = 0  # saw it (or, for the holdout, were held out)
    closes: int = 0
    clicks: int = 0
    submits: int = 0
    conversions: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)  # per currency, never added across


@dataclass
class MessageResults:
    arms: list[ArmResult]
    verdict: Verdict
    metric: str


def _visitor(row: dict[str, Any]) -> str:
    return f"p{row['profile_id']}" if row["profile_id"] else f"a{row['anonymous_id']}"


def message_results(*, message: Message) -> MessageResults:
    rows = list(
        Interaction.objects.filter(message=message)
        .values("arm", "kind", "profile_id", "anonymous_id")
        .annotate(first=Min("at"))
    )
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
        window = timedelta(days=message.goal_days)
        by_profile = {e["profile_id"]: e for e in exposed.values() if e["profile_id"]}
        if by_profile:
            goals = Event.objects.filter(
                profile_id__in=list(by_profile), name=message.goal_event
            ).values_list("profile_id", "timestamp", "properties")
            converted: set[int] = set()
            for profile_id, at, props in goals.order_by("timestamp"):
                exp = by_profile[profile_id]
                if profile_id in converted or not (exp["first"] <= at <= exp["first"] + window):
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
