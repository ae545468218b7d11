"""The acquisition side's subscriptions to tracking's signals."""

from __future__ import annotations

from typing import Any

from django.db import connection


def on_events_processed(sender: Any, *, event_ids: list[int], **kwargs: Any) -> None:
    from tracking.analytics.acquisition.touches import touches_extract

    touches_extract(event_ids=event_ids)


def on_profile_merged(sender: Any, *, survivor_id: int, merged_id: int, **kwargs: Any) -> None:
    # Inside the merge transaction, before the merged profile (and its cascade) goes.
    with connection.cursor() as cursor:
        for table in ("analytics_touch", "analytics_orderfact"):
            cursor.execute(
                f"UPDATE {table} SET profile_id = %s WHERE profile_id = %s", [survivor_id, merged_id]
            )
        cursor.execute("DELETE FROM analytics_profileprediction WHERE profile_id = %s", [merged_id])


def connect() -> None:
    from tracking import signals

    signals.events_processed.connect(on_events_processed, dispatch_uid="analytics-acquisition-touches")
    signals.profile_merged.connect(on_profile_merged, dispatch_uid="analytics-acquisition-merge")
