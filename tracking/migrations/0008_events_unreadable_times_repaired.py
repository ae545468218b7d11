"""Events stored before ingestion refused impossible times (issue 11): a timestamp such as
'0001-12-31 10:00 BC' or '10000-01-01' is valid to PostgreSQL but unreadable to Python, so the event
admin, the events API and the processor failed on the row. Ingestion now refuses times outside
1970–2200 UTC (tracking/messages.py); this repairs the rows already stored: the event keeps the time
Voyage received it, the sender's unusable values are kept as text in context.voyage_refused_times,
and a row the processor had set aside for it is handed back to the queue (its set-aside record says
"retried")."""

from django.db import migrations

OUT_OF_RANGE = "({col} < '1970-01-01T00:00:00Z' OR {col} >= '2200-01-01T00:00:00Z')"

REPAIR = f"""
WITH bad AS (
    SELECT id,
           jsonb_strip_nulls(jsonb_build_object(
               'timestamp', CASE WHEN {OUT_OF_RANGE.format(col="timestamp")} THEN timestamp::text END,
               'originalTimestamp', CASE WHEN {OUT_OF_RANGE.format(col="original_timestamp")}
                                         THEN original_timestamp::text END,
               'sentAt', CASE WHEN {OUT_OF_RANGE.format(col="sent_at")} THEN sent_at::text END
           )) AS refused
    FROM tracking_event
    WHERE {OUT_OF_RANGE.format(col="timestamp")}
       OR {OUT_OF_RANGE.format(col="original_timestamp")}
       OR {OUT_OF_RANGE.format(col="sent_at")}
), repaired AS (
    UPDATE tracking_event e
    SET timestamp = CASE WHEN bad.refused ? 'timestamp' THEN e.received_at ELSE e.timestamp END,
        original_timestamp = CASE WHEN bad.refused ? 'originalTimestamp' THEN NULL ELSE e.original_timestamp END,
        sent_at = CASE WHEN bad.refused ? 'sentAt' THEN NULL ELSE e.sent_at END,
        context = coalesce(e.context, '{{}}'::jsonb) || jsonb_build_object('voyage_refused_times', bad.refused),
        set_aside_at = NULL
    FROM bad
    WHERE e.id = bad.id
    RETURNING e.id
)
UPDATE core_setaside s
SET state = 'retried'
FROM repaired
WHERE s.queue = 'events' AND s.row_id = repaired.id AND s.state = 'set_aside'
"""


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0007_event_set_aside_at"),
        ("core", "0001_set_aside"),
    ]

    operations = [migrations.RunSQL(REPAIR, migrations.RunSQL.noop)]
