"""The behaviour side's subscriptions: keep the search, slot and affinity rollups fresh."""

from __future__ import annotations

from typing import Any


def on_events_processed(sender: Any, *, event_ids: list[int], **kwargs: Any) -> None:
    from tracking.analytics.behaviour.rollups import rollup_mark_events

    rollup_mark_events(event_ids=event_ids)


def on_profile_merged(sender: Any, *, survivor_id: int, merged_id: int, **kwargs: Any) -> None:
    # Inside the merge transaction: both profiles' days regroup once their events are one profile's.
    from tracking.analytics.behaviour.rollups import rollup_mark_profiles

    rollup_mark_profiles(profile_ids=[survivor_id, merged_id])


def on_mapping_changed(sender: Any, **kwargs: Any) -> None:
    # A workspace name mapped onto a spec event changes what every folded day counts.
    from tracking.analytics.behaviour.rollups import rollup_mark_all

    rollup_mark_all()


def connect() -> None:
    from django.db.models.signals import post_delete, post_save

    from tracking import signals
    from tracking.analytics.models import EventNameMapping

    signals.events_processed.connect(on_events_processed, dispatch_uid="analytics-behaviour-rollups")
    signals.profile_merged.connect(on_profile_merged, dispatch_uid="analytics-behaviour-merge")
    post_save.connect(on_mapping_changed, sender=EventNameMapping, dispatch_uid="analytics-behaviour-mapping")
    post_delete.connect(
        on_mapping_changed, sender=EventNameMapping, dispatch_uid="analytics-behaviour-mapping-del"
    )
