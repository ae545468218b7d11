from django.db import migrations

import core.fields


def encrypt_stored_secrets(apps, schema_editor):
    """The credentials were plain JSON: encrypt each row's JSON text in place (raw SQL, so no field
    conversion gets in the way)."""
    from core.fields import stored_reencrypt

    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id, secrets FROM channels_channelsettings")
        for pk, secrets in cursor.fetchall():
            cursor.execute(
                "UPDATE channels_channelsettings SET secrets = %s WHERE id = %s",
                [stored_reencrypt(secrets), pk],
            )


def decrypt_stored_secrets(apps, schema_editor):
    """Backwards: plain JSON text again, which the jsonb column of 0005 accepts."""
    from core.fields import text_decrypt

    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id, secrets FROM channels_channelsettings")
        for pk, secrets in cursor.fetchall():
            cursor.execute(
                "UPDATE channels_channelsettings SET secrets = %s WHERE id = %s", [text_decrypt(secrets), pk]
            )


class Migration(migrations.Migration):
    """Provider credentials (SendGrid, Twilio, FCM, VAPID) encrypted at rest: jsonb → text holding a
    Fernet token of the JSON (core/fields.py)."""

    dependencies = [
        ("channels", "0005_merge_run_columns_adapter_error"),
    ]

    operations = [
        migrations.AlterField(
            model_name="channelsettings",
            name="secrets",
            field=core.fields.EncryptedJSONField(blank=True, default=dict, editable=False),
        ),
        migrations.RunPython(encrypt_stored_secrets, decrypt_stored_secrets),
    ]
