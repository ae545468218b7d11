"""Subscriptions: fresh events may be conversions; new message results should show up soon."""

from __future__ import annotations


def on_events_processed(sender, event_ids, profile_ids, **kwargs) -> None:
    from journeys.reports.fold import profiles_mark_pending

    profiles_mark_pending(profile_ids=list(profile_ids or []))


def on_profile_erased(sender, profile_id, **kwargs) -> None:
    from journeys.reports.models import PendingProfile

    PendingProfile.objects.filter(profile_id=profile_id).delete()


def on_messages_erasing(sender, message_ids, **kwargs) -> None:
    # The rollups keep only counts; the per-message rows that decide "first open" and "price folded"
    # would otherwise outlive the person's messages.
    from journeys.reports.models import MessageCost, MessageFirst

    MessageFirst.objects.filter(message_id__in=message_ids).delete()
    MessageCost.objects.filter(message_id__in=message_ids).delete()


def connect() -> None:
    from channels import signals as channels_signals
    from tracking import signals as tracking_signals

    tracking_signals.events_processed.connect(on_events_processed, dispatch_uid="reports.events_processed")
    tracking_signals.profile_erased.connect(on_profile_erased, dispatch_uid="reports.profile_erased")
    channels_signals.messages_erasing.connect(on_messages_erasing, dispatch_uid="reports.messages_erasing")
