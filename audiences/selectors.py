"""Reads about audiences: members, a profile's memberships, membership history over time."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from audiences.models import Audience, AudienceMembership


def audience_members(*, audience: Audience) -> QuerySet[AudienceMembership]:
    return (
        AudienceMembership.objects.filter(audience=audience, exited_at__isnull=True)
        .select_related("profile")
        .order_by("-entered_at", "-id")
    )


def profile_memberships(*, profile_id: int, include_history: bool = False) -> QuerySet[AudienceMembership]:
    qs = AudienceMembership.objects.filter(profile_id=profile_id).select_related("audience")
    if not include_history:
        qs = qs.filter(exited_at__isnull=True)
    return qs.order_by("-entered_at", "-id")


def membership_history(*, audience: Audience, days: int = 30, today: date | None = None) -> list[dict]:
    """Members at the end of each of the last `days` days, and entries/exits that day (one query)."""
    today = today or timezone.localdate()
    tz = timezone.get_current_timezone()
    ends = [datetime.combine(today - timedelta(days=i), time.max, tzinfo=tz) for i in reversed(range(days))]
    aggregates = {}
    for i, end in enumerate(ends):
        start = end - timedelta(days=1)
        aggregates[f"m{i}"] = Count(
            "pk", filter=Q(entered_at__lte=end) & (Q(exited_at__isnull=True) | Q(exited_at__gt=end))
        )
        aggregates[f"e{i}"] = Count("pk", filter=Q(entered_at__gt=start, entered_at__lte=end))
        aggregates[f"x{i}"] = Count("pk", filter=Q(exited_at__gt=start, exited_at__lte=end))
    row = AudienceMembership.objects.filter(audience=audience).aggregate(**aggregates)
    return [
        {
            "day": end.date().isoformat(),
            "members": row[f"m{i}"],
            "entered": row[f"e{i}"],
            "exited": row[f"x{i}"],
        }
        for i, end in enumerate(ends)
    ]
