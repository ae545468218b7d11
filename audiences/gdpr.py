"""Audience memberships of one person, for the GDPR export (registered with tracking's export)."""

from __future__ import annotations

from typing import Any

from audiences.models import AudienceMembership


def profile_memberships_export(profile_id: int) -> list[dict[str, Any]]:
    return [
        {**m, "audience": m.pop("audience__slug")}
        for m in AudienceMembership.objects.filter(profile_id=profile_id)
        .order_by("entered_at", "id")
        .values("audience__slug", "entered_at", "exited_at")
    ]
