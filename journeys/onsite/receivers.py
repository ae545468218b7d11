"""What on-site messages listen to from the floors below."""

from __future__ import annotations

from typing import Any

from tracking import signals


def _events_processed(sender: Any, **kwargs: Any) -> None:
    from journeys.onsite.services import submissions_apply

    # A form submit's identify may just have been resolved: record its consents now.
    submissions_apply()


def _profile_merged(sender: Any, *, survivor_id: int, merged_id: int, **kwargs: Any) -> None:
    from journeys.onsite.models import Interaction, QueuedMessage, Submission

    Interaction.objects.filter(profile_id=merged_id).update(profile_id=survivor_id)
    Submission.objects.filter(profile_id=merged_id).update(profile_id=survivor_id)
    QueuedMessage.objects.filter(profile_id=merged_id).update(profile_id=survivor_id)


def connect() -> None:
    signals.events_processed.connect(_events_processed, dispatch_uid="onsite-submissions-apply")
    signals.profile_merged.connect(_profile_merged, dispatch_uid="onsite-profile-merged")
