"""The acquisition page's rollup (tracking/analytics/acquisition/rollup.py): sums per UTC hour and
creative, in unscaled numeric so that rollup + live tail equals the raw recompute exactly."""

from django.db import migrations, models

CREATE = """
CREATE TABLE analytics_acquisitionhour (
  hour timestamptz NOT NULL,
  channel varchar(32) NOT NULL,
  campaign varchar(200) NOT NULL,
  creative varchar(200) NOT NULL,
  model varchar(10) NOT NULL,  -- '' sessions / new profiles / new customers; a credit model; or 'spend'
  sessions bigint NOT NULL,
  new_profiles bigint NOT NULL,
  new_customers bigint NOT NULL,
  window_revenue numeric NOT NULL,
  window_missing bigint NOT NULL,
  orders numeric NOT NULL,
  revenue numeric NOT NULL,
  missing numeric NOT NULL,
  partner_cost numeric NOT NULL,
  -- model 'spend': one row per ad and day (hour = the day at 00:00 UTC), cost converted at its day's rate
  impressions bigint NOT NULL DEFAULT 0,
  clicks bigint NOT NULL DEFAULT 0,
  cost numeric NOT NULL DEFAULT 0,
  cost_missing bigint NOT NULL DEFAULT 0
);
CREATE INDEX analytics_acquisitionhour_hour_idx ON analytics_acquisitionhour (hour);
CREATE TABLE analytics_acquisitionrollupstate (
  id integer PRIMARY KEY CHECK (id = 1),
  built_at timestamptz NOT NULL,
  cutoff timestamptz NOT NULL,
  currency varchar(3) NOT NULL,
  window_days integer NOT NULL,
  seconds double precision NOT NULL
);
"""
DROP = "DROP TABLE analytics_acquisitionhour; DROP TABLE analytics_acquisitionrollupstate;"


class Migration(migrations.Migration):
    dependencies = [("analytics", "0004_merge_acquisition_behaviour")]

    operations = [
        migrations.RunSQL(CREATE, DROP),
        migrations.AddIndex(model_name="touch", index=models.Index(fields=["at"], name="touch_at_idx")),
        migrations.AddIndex(model_name="orderfact", index=models.Index(fields=["at"], name="orderfact_at_idx")),
        migrations.CreateModel(
            name="GrowthAccess",
            fields=[("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"))],
            options={
                "verbose_name": "growth page",
                "verbose_name_plural": "Growth pages (acquisition by channel, campaign and creative; LTV; predicted CLV)",
                "managed": False,
                "default_permissions": (),
            },
        ),
    ]
