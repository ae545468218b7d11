from django.db import migrations


class Migration(migrations.Migration):
    """The analytics app's root; each side's models come in its own migrations."""

    initial = True
    dependencies = [("tracking", "0004_event_fk_indexes")]
    operations = []
