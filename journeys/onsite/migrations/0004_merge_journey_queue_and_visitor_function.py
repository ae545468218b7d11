from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("onsite", "0003_journey_queue_and_conversion_cap"),
        ("onsite", "0003_onsite_visitor_function"),
    ]
    operations = []
