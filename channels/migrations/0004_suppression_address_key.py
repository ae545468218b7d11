from django.db import migrations, models


def fill_keys(apps, schema_editor):
    # Rows written before the key existed: key them exactly as channels.suppressions does today.
    from channels.suppressions import suppression_address_normalize, suppression_key

    Suppression = apps.get_model("channels", "Suppression")
    seen: set[tuple[str, str]] = set()
    for row in Suppression.objects.order_by("-at", "id").iterator():
        key = suppression_key(channel=row.channel, address=row.address)
        if (row.channel, key) in seen:  # "A@x" and "a@x" were two rows before normalising: keep the newest
            row.delete()
            continue
        seen.add((row.channel, key))
        row.address_key = key
        row.address = suppression_address_normalize(channel=row.channel, address=row.address)
        row.save(update_fields=["address_key", "address"])


class Migration(migrations.Migration):
    dependencies = [("channels", "0003_fewer_write_indexes")]

    operations = [
        migrations.RemoveConstraint(model_name="suppression", name="suppression_unique_address"),
        migrations.AddField(
            model_name="suppression",
            name="address_key",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="suppression", name="address", field=models.CharField(blank=True, max_length=1024)
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="suppression",
            constraint=models.UniqueConstraint(
                fields=("channel", "address_key"), name="suppression_unique_address_key"
            ),
        ),
    ]
