"""What channels does when tracking announces news about profiles."""

from __future__ import annotations

from typing import Any

from channels.models import Message


def on_profile_merged(sender: Any, *, survivor_id: int, merged_id: int, **kwargs: Any) -> None:
    # Inside the merge transaction, before the merged profile is deleted: its messages move over.
    Message.objects.filter(profile_id=merged_id).update(profile_id=survivor_id)


def on_profile_erased(sender: Any, *, profile_id: int, **kwargs: Any) -> None:
    # Erasure: the profile's messages, attempts, timelines and sandbox copies go with it.
    Message.objects.filter(profile_id=profile_id).delete()
