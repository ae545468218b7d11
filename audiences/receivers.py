"""Subscriptions to tracking's news: membership follows events, trait/tag/consent changes, merges
and erasures. Receivers only route ids to tasks (or, for merges and erasures, which run inside
tracking's transaction, to a service that moves or removes rows before the profile goes).
"""

from __future__ import annotations

from typing import Any

from tracking import signals as tracking_signals


def on_events_processed(sender: Any, *, event_ids: list[int], profile_ids: list[int], **kwargs: Any) -> None:
    from audiences.tasks import events_reevaluate_task

    if event_ids and profile_ids:
        events_reevaluate_task.delay(event_ids=list(event_ids), profile_ids=list(profile_ids))


def on_profile_changed(sender: Any, *, profile_ids: list[int], **kwargs: Any) -> None:
    from audiences.tasks import profiles_changed_task

    if profile_ids:
        profiles_changed_task.delay(profile_ids=list(profile_ids))


def on_profile_merged(sender: Any, *, survivor_id: int, merged_id: int, **kwargs: Any) -> None:
    from audiences.services.membership import memberships_move_on_merge

    memberships_move_on_merge(survivor_id=survivor_id, merged_id=merged_id)


def on_profile_erased(sender: Any, *, profile_id: int, **kwargs: Any) -> None:
    from audiences.services.membership import memberships_erase

    memberships_erase(profile_id=profile_id)


def connect() -> None:
    tracking_signals.events_processed.connect(on_events_processed, dispatch_uid="audiences-events")
    tracking_signals.profile_changed.connect(on_profile_changed, dispatch_uid="audiences-profile-changed")
    tracking_signals.profile_merged.connect(on_profile_merged, dispatch_uid="audiences-profile-merged")
    tracking_signals.profile_erased.connect(on_profile_erased, dispatch_uid="audiences-profile-erased")
