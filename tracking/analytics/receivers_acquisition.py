"""The acquisition side's subscriptions to tracking's signals (and money's)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import connection


def touches_on_ingest() -> bool:
    """Whether touches are read as events are processed (default), or only by the hourly sweep
    (`ANALYTICS_TOUCHES_ON_INGEST=0`: ingestion's cost without them, as bench.ingest --touches both
    measures; the acquisition page then lags by up to an hour)."""
    return settings.ANALYTICS_TOUCHES_ON_INGEST


def on_events_processed(sender: Any, *, event_ids: list[int], **kwargs: Any) -> None:
    from tracking.analytics.acquisition.touches import touches_extract

    touches_extract(event_ids=event_ids)


def on_profile_merged(sender: Any, *, survivor_id: int, merged_id: int, **kwargs: Any) -> None:
    # Inside the merge transaction, before the merged profile (and its cascade) goes.
    from tracking.analytics.acquisition.attribution import attribution_refresh
    from tracking.analytics.acquisition.rollup import (
        acquisition_days_mark_dirty,
        acquisition_days_of_profiles,
    )

    with connection.cursor() as cursor:
        # The days the merged profile's rows were folded under, before they move.
        days = acquisition_days_of_profiles(profile_ids=[survivor_id, merged_id])
        for table in ("analytics_touch", "analytics_orderfact"):
            cursor.execute(
                f"UPDATE {table} SET profile_id = %s WHERE profile_id = %s", [survivor_id, merged_id]
            )
        cursor.execute("DELETE FROM analytics_profileprediction WHERE profile_id = %s", [merged_id])
    # The survivor's orders now see the merged profile's touches: their credits, then the rollup's days.
    attribution_refresh(profile_ids=[survivor_id])
    acquisition_days_mark_dirty(days=days)


def on_profile_erased(sender: Any, *, profile_id: int, **kwargs: Any) -> None:
    # Inside the erasure transaction: the profile's touches and orders go with it (cascade).
    from tracking.analytics.acquisition.rollup import (
        acquisition_days_mark_dirty,
        acquisition_days_of_profiles,
    )

    acquisition_days_mark_dirty(days=acquisition_days_of_profiles(profile_ids=[profile_id]))


def on_fx_rates_changed(sender: Any, *, days: list[date], **kwargs: Any) -> None:
    # A rate of day D converts orders, spend and partner fees of D, and the window revenue of first
    # touches up to the ROAS window before D.
    from tracking.analytics.acquisition.rollup import acquisition_days_mark_dirty, rollup_state

    state = rollup_state()
    if state is None:
        return
    acquisition_days_mark_dirty(
        days={d - timedelta(days=k) for d in days for k in range(state.window_days + 1)}
    )


def connect() -> None:
    from tracking import signals
    from tracking.analytics import money

    if touches_on_ingest():
        signals.events_processed.connect(on_events_processed, dispatch_uid="analytics-acquisition-touches")
    signals.profile_merged.connect(on_profile_merged, dispatch_uid="analytics-acquisition-merge")
    signals.profile_erased.connect(on_profile_erased, dispatch_uid="analytics-acquisition-erase")
    money.fx_rates_changed.connect(on_fx_rates_changed, dispatch_uid="analytics-acquisition-fx")
