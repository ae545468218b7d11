"""What journeys hold about one person, for the GDPR export (registered with tracking's export)."""

from __future__ import annotations

from typing import Any

from journeys.models import BroadcastRecipient, Run


def profile_runs_export(profile_id: int) -> list[dict[str, Any]]:
    return [
        {**r, "journey": r.pop("journey__slug"), "version": r.pop("version__number")}
        for r in Run.objects.filter(profile_id=profile_id)
        .order_by("entered_at", "id")
        .values(
            "journey__slug",
            "version__number",
            "status",
            "stage_key",
            "variant",
            "holdout",
            "entered_at",
            "converted_at",
            "ended_at",
            "end_reason",
        )
    ]


def profile_broadcasts_export(profile_id: int) -> list[dict[str, Any]]:
    return [
        {**r, "broadcast": r.pop("broadcast__name")}
        for r in BroadcastRecipient.objects.filter(profile_id=profile_id)
        .order_by("sent_at", "id")
        .values("broadcast__name", "occurrence", "variant", "sent_at", "converted_at")
    ]
