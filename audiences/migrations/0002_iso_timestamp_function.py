"""A safe ISO 8601 → timestamptz cast for date comparisons inside JSON (PostgreSQL only).

Returns NULL instead of failing for anything that is not a strict ISO date, so one malformed
value in one profile cannot abort an audience's query. Naive values are read as UTC.
"""

from django.db import migrations

ISO_RE = r"^\d{4}-\d{2}-\d{2}([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?$"

CREATE = rf"""
CREATE OR REPLACE FUNCTION audiences_iso_ts(s text) RETURNS timestamptz
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


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS audiences_iso_ts(text)")


class Migration(migrations.Migration):
    dependencies = [("audiences", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
