"""On-site messages in the campaign reports' overview (journeys/reports/more.py): one row per
message and arm, with the same figures as the message's own results."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Q
from django.urls import reverse

from journeys.onsite.models import Interaction, Message
from journeys.onsite.selectors import message_results
from journeys.reports.more import CampaignSection

COLUMNS = (
    ("impressions", "Impressions"),
    ("visitors", "Visitors (held out)"),
    ("closes", "Closed"),
    ("clicks", "Clicked"),
    ("submits", "Submitted"),
    ("conversions", "Conversions"),
    ("conversion_rate", "Conversion rate"),
    ("revenue", "Revenue"),
)


def onsite_report_rows(*, start: date | None, end: date | None) -> list[dict[str, Any]]:
    """Messages with interactions in the range, each arm a row (the holdout last)."""
    active = Interaction.objects.all()
    if start:
        active = active.filter(at__date__gte=start)
    if end:
        active = active.filter(at__date__lte=end)
    messages = Message.objects.filter(Q(pk__in=active.values("message_id"))).order_by("name")
    out: list[dict[str, Any]] = []
    for message in messages:
        results = message_results(message=message, start=start, end=end)
        url = reverse("admin:onsite_message_change", args=[message.pk]) + "#results"
        for arm in results.arms:
            rate = arm.conversion_rate
            out.append(
                {
                    "name": message.name,
                    "url": url,
                    "group": "holdout" if arm.arm == "holdout" else f"arm {arm.arm}",
                    "impressions": arm.impressions,
                    "visitors": arm.visitors,
                    "closes": arm.closes,
                    "clicks": arm.clicks,
                    "submits": arm.submits,
                    "conversions": arm.conversions if message.goal_event else "–",
                    "conversion_rate": f"{rate * 100:.2f}%"
                    if rate is not None and message.goal_event
                    else "–",
                    "revenue": ", ".join(f"{v:.2f} {c}" for c, v in sorted(arm.revenue.items())) or "–",
                }
            )
    return out


SECTION = CampaignSection(
    key="onsite",
    title="On-site messages",
    help=(
        "Pop-ups, bars and blocks on the shop's pages, per arm. Impressions: every showing; visitors: "
        "people who saw it (for the holdout: were held out); closed, clicked, submitted: visitors who "
        "did; conversions: the message's goal event within its window after first seeing it."
    ),
    columns=COLUMNS,
    rows=onsite_report_rows,
)
