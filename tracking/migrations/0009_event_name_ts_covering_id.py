"""The (name, timestamp) index also carries the event id, so behaviour analytics read a funnel's step
events with an index-only scan (ties in time are ordered by id). Built concurrently: ingestion keeps
writing while it builds; afterwards each insert writes the same number of index entries as before,
8 bytes wider in this one."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("tracking", "0008_events_unreadable_times_repaired"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="event",
            index=models.Index(
                fields=["name", "timestamp"], include=["profile", "id"], name="event_name_ts_cover_idx"
            ),
        ),
        RemoveIndexConcurrently(model_name="event", name="event_name_ts_idx"),
    ]
