"""Subscriptions: fresh events may be conversions; new message results should show up soon."""

from __future__ import annotations


def on_events_processed(sender, event_ids, profile_ids, **kwargs) -> None:
    from journeys.reports.fold import profiles_mark_pending

    profiles_mark_pending(profile_ids=list(profile_ids or []))


def connect() -> None:
    from tracking import signals as tracking_signals

    tracking_signals.events_processed.connect(on_events_processed, dispatch_uid="reports.events_processed")
