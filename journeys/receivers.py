"""Subscriptions to the floors below. Receivers only hand work to tasks or services."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def on_events_processed(sender, event_ids, profile_ids, **kwargs) -> None:
    from journeys.tasks import events_task

    if event_ids:
        events_task.delay(list(event_ids))


def on_membership_changed(sender, audience_id, slug, entered, exited, **kwargs) -> None:
    from journeys.tasks import membership_task

    if entered or exited:
        membership_task.delay(audience_id, slug, list(entered), list(exited))


def on_profile_merged(sender, survivor_id, merged_id, **kwargs) -> None:
    from journeys.services.news import profile_merge_apply

    profile_merge_apply(survivor_id=survivor_id, merged_id=merged_id)


def on_profile_erased(sender, profile_id, **kwargs) -> None:
    from journeys.services.news import profile_erase_apply

    profile_erase_apply(profile_id=profile_id)


def connect() -> None:
    from tracking import signals as tracking_signals

    tracking_signals.events_processed.connect(on_events_processed, dispatch_uid="journeys.events_processed")
    tracking_signals.profile_merged.connect(on_profile_merged, dispatch_uid="journeys.profile_merged")
    tracking_signals.profile_erased.connect(on_profile_erased, dispatch_uid="journeys.profile_erased")
    try:
        from audiences.signals import membership_changed
    except ImportError:
        logger.info("audiences.signals is not available: journeys do not follow audience membership")
    else:
        membership_changed.connect(on_membership_changed, dispatch_uid="journeys.membership_changed")
