"""A safe ISO 8601 → timestamptz cast for date conditions inside JSON (tracking.conditions).

Returns NULL instead of failing for anything that is not a strict ISO date, so one malformed value
in one document cannot abort a query. Naive values are read as UTC. The same function was created
as audiences_iso_ts by audiences' migration 0002; the condition language lives on tracking now, so
its SQL must not depend on an upper floor's migration.
"""

from django.db import migrations

ISO_RE = r"^\d{4}-\d{2}-\d{2}([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?$"

CREATE = rf"""
CREATE OR REPLACE FUNCTION tracking_iso_ts(s text) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  IF s IS NULL OR s !~ '{ISO_RE}' THEN
    RETURN NULL;
  END IF;
  IF s ~ '(Z|[+-]\d{{2}}:\d{{2}})$' AND length(s) > 10 THEN
    RETURN s::timestamptz;
  END IF;
  RETURN s::timestamp AT TIME ZONE 'UTC';
EXCEPTION WHEN others THEN
  RETURN NULL;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("tracking", "0004_event_fk_indexes")]
    operations = [migrations.RunSQL(CREATE, "DROP FUNCTION IF EXISTS tracking_iso_ts(text)")]
