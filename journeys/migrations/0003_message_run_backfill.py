"""Messages enqueued before channels' Message.run_id / broadcast_recipient_id existed get them from
their idempotency keys, the one time anything reads those keys: journeys wrote them as
`journey-run:{run}:visit:{n}:action:{i}` and `broadcast:{broadcast}:{occurrence}:{profile}`.
It lives here, not in channels, because only journeys knows those formats and its own tables."""

from django.db import migrations


def backfill(apps, schema_editor):
    message = apps.get_model("channels", "Message")
    if not message.objects.exists():
        return  # a new database: nothing was sent before
    quote = schema_editor.connection.ops.quote_name
    messages = quote(message._meta.db_table)
    recipients = quote(apps.get_model("journeys", "BroadcastRecipient")._meta.db_table)
    schema_editor.execute(
        f"UPDATE {messages} SET run_id = substring(idempotency_key from '^journey-run:([0-9]+):')::bigint "
        "WHERE run_id IS NULL AND campaign_kind = 'journey' AND idempotency_key ~ '^journey-run:[0-9]+:'"
    )
    schema_editor.execute(
        f"UPDATE {messages} m SET broadcast_recipient_id = r.id FROM {recipients} r "
        "WHERE m.broadcast_recipient_id IS NULL AND m.campaign_kind = 'broadcast' "
        "AND m.campaign_id = r.broadcast_id "
        "AND m.idempotency_key = 'broadcast:' || r.broadcast_id || ':' || r.occurrence || ':' || r.profile_id"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("journeys", "0002_fewer_write_indexes"),
        ("channels", "0004_message_run_columns"),
    ]
    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
