from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("channels", "0004_suppression_address_key")]

    operations = [
        migrations.AddField(
            model_name="message",
            name="run_id",
            field=models.BigIntegerField(blank=True, help_text="The journey run it was sent for.", null=True),
        ),
        migrations.AddField(
            model_name="message",
            name="broadcast_recipient_id",
            field=models.BigIntegerField(
                blank=True, help_text="The broadcast recipient row it was sent for.", null=True
            ),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("run_id__isnull", False)), fields=["run_id"], name="message_run_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("broadcast_recipient_id__isnull", False)),
                fields=["broadcast_recipient_id"],
                name="message_bc_recipient_idx",
            ),
        ),
    ]
