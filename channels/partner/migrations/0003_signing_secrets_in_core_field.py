from django.db import migrations

import core.fields


class Migration(migrations.Migration):
    """The signing secrets' field moved to core.fields (one key handling for every encrypted column);
    the column becomes text. The stored tokens are unchanged."""

    dependencies = [
        ("partner", "0002_signing_secrets_encrypted"),
    ]

    operations = [
        migrations.AlterField(
            model_name="endpoint",
            name="previous_secret",
            field=core.fields.EncryptedTextField(blank=True, editable=False),
        ),
        migrations.AlterField(
            model_name="endpoint",
            name="secret",
            field=core.fields.EncryptedTextField(editable=False),
        ),
    ]
