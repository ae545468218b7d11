"""The acquisition page's rollup by local day (tracking/analytics/acquisition/rollup.py) instead of by
UTC hour: one row per zone ('utc', 'workspace', 'profile'), local day and creative, so a two-year
range reads ~730 days instead of ~17,500 hours, and each profile's zone and half-hour workspace zones
are served too. Days marked dirty (new exchange rates, profile merges, erasures) are refolded
without waiting for the hourly rebuild."""

from django.db import migrations

CREATE = """
DROP TABLE analytics_acquisitionhour;
CREATE TABLE analytics_acquisitionday (
  zone varchar(10) NOT NULL,   -- 'utc', 'workspace', 'profile'; '' for spend (the platform's own day)
  day date NOT NULL,           -- the local day in that zone
  channel varchar(32) NOT NULL,
  campaign varchar(200) NOT NULL,
  creative varchar(200) NOT NULL,
  model varchar(10) NOT NULL,  -- '' sessions / new profiles / new customers; a credit model; or 'spend'
  sessions bigint NOT NULL DEFAULT 0,
  new_profiles bigint NOT NULL DEFAULT 0,
  new_customers bigint NOT NULL DEFAULT 0,
  window_revenue numeric NOT NULL DEFAULT 0,
  window_missing bigint NOT NULL DEFAULT 0,
  orders numeric NOT NULL DEFAULT 0,
  revenue numeric NOT NULL DEFAULT 0,
  missing numeric NOT NULL DEFAULT 0,
  partner_cost numeric NOT NULL DEFAULT 0,
  impressions bigint NOT NULL DEFAULT 0,
  clicks bigint NOT NULL DEFAULT 0,
  cost numeric NOT NULL DEFAULT 0,
  cost_missing bigint NOT NULL DEFAULT 0
);
CREATE INDEX analytics_acquisitionday_zone_day_idx ON analytics_acquisitionday (zone, day);
ALTER TABLE analytics_acquisitionrollupstate ADD COLUMN workspace_zone varchar(64) NOT NULL DEFAULT 'UTC';
CREATE TABLE analytics_acquisitiondirtyday (
  day date PRIMARY KEY,        -- a UTC day whose facts changed after the rollup was built
  marked_at timestamptz NOT NULL DEFAULT now()
);
"""
DROP = """
DROP TABLE analytics_acquisitionday;
DROP TABLE analytics_acquisitiondirtyday;
ALTER TABLE analytics_acquisitionrollupstate DROP COLUMN workspace_zone;
DELETE FROM analytics_acquisitionrollupstate;
CREATE TABLE analytics_acquisitionhour (
  hour timestamptz NOT NULL, channel varchar(32) NOT NULL, campaign varchar(200) NOT NULL,
  creative varchar(200) NOT NULL, model varchar(10) NOT NULL, sessions bigint NOT NULL,
  new_profiles bigint NOT NULL, new_customers bigint NOT NULL, window_revenue numeric NOT NULL,
  window_missing bigint NOT NULL, orders numeric NOT NULL, revenue numeric NOT NULL, missing numeric NOT NULL,
  partner_cost numeric NOT NULL, impressions bigint NOT NULL DEFAULT 0, clicks bigint NOT NULL DEFAULT 0,
  cost numeric NOT NULL DEFAULT 0, cost_missing bigint NOT NULL DEFAULT 0
);
CREATE INDEX analytics_acquisitionhour_hour_idx ON analytics_acquisitionhour (hour);
"""


class Migration(migrations.Migration):
    dependencies = [("analytics", "0006_merge_acquisition_behaviour_rollups")]

    operations = [
        # The rollup is derived data: the next rebuild (hourly, or the demo load) fills it; until then
        # the page is computed raw (no state row).
        migrations.RunSQL("DELETE FROM analytics_acquisitionrollupstate", migrations.RunSQL.noop),
        migrations.RunSQL(CREATE, DROP),
    ]
