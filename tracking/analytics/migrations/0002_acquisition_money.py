from django.db import migrations, models

# Converts `amount` from currency $2 to currency $4 at the rate of day $3; NULL when either rate is
# missing (callers count those instead of adding a zero). EUR is the ECB's base, so its rate is 1.
FX_FUNCTION = """
CREATE OR REPLACE FUNCTION analytics_fx(numeric, text, date, text) RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN $1 IS NULL THEN NULL
    WHEN $2 = $4 THEN $1
    ELSE $1
      / NULLIF(CASE WHEN $2 = 'EUR' THEN 1
                    ELSE (SELECT per_eur FROM analytics_fxrate WHERE currency = $2 AND day = $3) END, 0)
      * (CASE WHEN $4 = 'EUR' THEN 1
              ELSE (SELECT per_eur FROM analytics_fxrate WHERE currency = $4 AND day = $3) END)
  END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("analytics", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="FxRate",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField()),
                ("currency", models.CharField(max_length=3)),
                ("per_eur", models.DecimalField(decimal_places=10, max_digits=24)),
                ("published_on", models.DateField()),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("currency", "day"), name="fxrate_currency_day")]
            },
        ),
        migrations.RunSQL(FX_FUNCTION, "DROP FUNCTION IF EXISTS analytics_fx(numeric, text, date, text);"),
    ]
