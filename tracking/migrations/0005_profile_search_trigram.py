"""Trigram indexes for the admin's people search (tracking.selectors.profiles_search): substring,
any-case matches on identity values (emails, phones, user ids) and on the name traits.

Built CONCURRENTLY so a big profile table keeps taking writes meanwhile (hence not atomic).
PostgreSQL only; the SQLite demo searches by scanning."""

from django.db import migrations

# Frozen copy of tracking.selectors.PROFILE_NAME_SQL (a test checks that searches use this index).
PROFILE_NAME_SQL = (
    "upper(coalesce(traits->>'firstName', '') || ' ' || coalesce(traits->>'lastName', '') || ' ' || "
    "coalesce(traits->>'first_name', '') || ' ' || coalesce(traits->>'last_name', '') || ' ' || "
    "coalesce(traits->>'name', ''))"
)
INDEXES = {
    "identity_value_trgm": "tracking_identity USING gin (upper(value) gin_trgm_ops)",
    "profile_name_trgm": f"tracking_profile USING gin (({PROFILE_NAME_SQL}) gin_trgm_ops)",
}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, target in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {target}")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("tracking", "0004_event_fk_indexes"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
