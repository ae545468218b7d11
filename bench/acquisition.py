"""Acquisition benchmark: the acquisition page from its rollup vs a raw recompute, touch extraction's
cost on ingestion, and the CLV fit.

    python -m bench.acquisition [--profiles 100000] [--touches 600000] [--orders 30000] [--events 20000]
                                [--clv-customers N] [--full] [--raw-runs 1] [--keep]
                                [--out docs/benchmarks/acquisition.md]

--full: 1,000,000 profiles, 6,000,000 touches (the marketing arrivals among 20,000,000 events),
300,000 orders, a CLV fit on 300,000 customers, and no in-process ingestion comparison (bench.ingest
--touches both measures it as served). Every size has two years of daily
spend (730 days × 20 ads on Google, Meta and TikTok, in USD, EUR and GBP). Its own database next to
DATABASE_URL's (voyage_bench_acquisition), migrated on start; rows are generated in PostgreSQL
(INSERT … SELECT generate_series, setseed for repeatable random()).

It prints, in the same run:
- the order credits (attribution_refresh) and the rollup rebuild (acquisition_rollup_rebuild: one
  row per zone, local day and creative), and a refold of 30 dirty days (what a newer ECB file or a
  merge costs between rebuilds),
- the acquisition page's figures (per channel + the daily trend, the page's two calls) for the last
  30 days and for the whole two years, in UTC and in each profile's zone, from the rollup (median of
  5) and by raw recompute (median of --raw-runs), the ratio, and whether both give equal figures
  (every row, every field),
- ingestion with and without touch extraction: the same in-process path the ingestion workers run
  (ingest_messages + events_process_pending, bench/ingest.py's realistic messages with UTM tags),
  alternating arms on fresh messages; events/s of each and the ratio,
- the CLV fit (summary in SQL, BG/NBD + Gamma-Gamma, backtest, predictions and traits written) on
  --clv-customers customers (their own order history, generated after the page phases: each customer
  buys at a rate of their own during a lifetime of their own, so many have lapsed by the end):
  seconds, peak Python memory (tracemalloc) and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg

from bench.db import bench_db_prepare, bench_db_url, bench_env, django_setup
from bench.machine import machine_describe, timed_median

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "voyage_bench_acquisition"
END = date(2026, 10, 30)  # the bundled ECB history's last day: every generated day has rates
DAYS = 730
# (platform, source, medium, channel, campaign, ad, currency): 8 campaigns, 20 ads.
ADS = [
    (p, s, m, c, camp, f"{camp}-{n}", cur)
    for p, s, m, c, camps, cur in (
        ("google", "google", "cpc", "Paid Search", ("brand", "generic", "pmax"), "USD"),
        ("meta", "facebook", "paid_social", "Paid Social", ("spring", "retargeting", "launch"), "EUR"),
        ("tiktok", "tiktok", "paid_social", "Paid Social", ("guides", "creators"), "GBP"),
    )
    for camp in camps
    for n in range(1, 4 if camp in ("generic", "spring", "guides", "creators") else 3)
][:20]
OTHER = [("", "", "", "Direct", "", "", ""), ("google", "google", "organic", "Organic Search", "", "", "")]
OTHER += [("", "newsletter", "email", "Email", "weekly", "hero", ""), ("", "brewblog", "affiliate", "Affiliate/KOL", "aff", "aff-1", "")]  # fmt: skip


def _sql(statement: str, params: dict | list | None = None) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(statement, params)


def _scalar(statement: str, params: dict | list | None = None):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchone()[0]


def _generate(profiles: int, touches: int, orders: int) -> None:
    origins = ADS + OTHER
    p = {
        "profiles": profiles,
        "touches": touches,
        "orders": orders,
        "customers": max(1, orders * 2 // 5),
        "t0": END - timedelta(days=DAYS - 1),
        "days": DAYS,
        "n_origins": len(origins),
        "channels": [o[3] for o in origins],
        "sources": [o[1] for o in origins],
        "mediums": [o[2] for o in origins],
        "campaigns": [o[4] for o in origins],
        "contents": [o[5] for o in origins],
        "ad_platforms": [a[0] for a in ADS],
        "ad_sources": [a[1] for a in ADS],
        "ad_mediums": [a[2] for a in ADS],
        "ad_channels": [a[3] for a in ADS],
        "ad_campaigns": [a[4] for a in ADS],
        "ad_names": [a[5] for a in ADS],
        "ad_currencies": [a[6] for a in ADS],
    }
    _sql(
        "TRUNCATE analytics_acquisitionday, analytics_acquisitiondirtyday, analytics_ordercredit, analytics_orderfact, analytics_touch, "
        "analytics_adspend, analytics_partner, analytics_profileprediction, analytics_clvfit, tracking_event, "
        "tracking_profile CASCADE"
    )
    _sql("SELECT setseed(0.42)")
    steps = [
        (
            "profiles",
            # Profiles in six zones (DST, a half-hour offset, one PostgreSQL does not know: the workspace's).
            "INSERT INTO tracking_profile (id, created_at, updated_at, traits, trait_updated_at, tags, timezone, locale, country) "
            "SELECT i, now(), now(), '{}', '{}', '[]', (ARRAY['Europe/Berlin', 'America/New_York', 'Asia/Tokyo', "
            "'Asia/Kolkata', 'Europe/London', ''])[1 + i %% 6], '', '' FROM generate_series(1, %(profiles)s) i",
        ),
        (
            "partner",
            "INSERT INTO analytics_partner (id, name, kind, utm_value, ref_code, coupon_code, commission_percent, fixed_fee, fee_currency) "
            "VALUES (1, 'Brew Blog', 'affiliate', 'brewblog', '', 'BREW5', 8, 1, 'EUR')",
        ),
        (
            "touches",
            # Most profiles arrive once; some return through other channels. Ads get 60% of arrivals.
            "INSERT INTO analytics_touch (event_id, profile_id, at, source, medium, campaign, term, content, click_id_kind, "
            "click_id, referrer_host, landing_path, ref_code, channel, partner_id) "
            "SELECT i, 1 + floor(random() * %(profiles)s)::int, %(t0)s::timestamptz + random() * %(days)s * interval '1 day', "
            "(%(sources)s::text[])[k], (%(mediums)s::text[])[k], (%(campaigns)s::text[])[k], '', (%(contents)s::text[])[k], "
            "'', '', '', '/', '', (%(channels)s::text[])[k], CASE WHEN (%(channels)s::text[])[k] = 'Affiliate/KOL' THEN 1 END "
            "FROM (SELECT i, CASE WHEN random() < 0.6 THEN 1 + floor(random() * 20)::int "
            "             ELSE 21 + floor(random() * (%(n_origins)s - 20))::int END AS k "
            "      FROM generate_series(1, %(touches)s) i) x",
        ),
        (
            "orders",
            # Customers order a skewed number of times (repeat buyers exist), in four currencies.
            "INSERT INTO analytics_orderfact (event_id, profile_id, at, order_id, revenue, currency, coupon) "
            "SELECT i, 1 + floor(power(random(), 1.6) * %(customers)s)::int, "
            "%(t0)s::timestamptz + random() * %(days)s * interval '1 day', 'o-' || i, "
            "CASE c WHEN 'JPY' THEN round((20 + random() * 120)::numeric * 160) ELSE round((20 + random() * 120)::numeric, 2) END, "
            "c, CASE WHEN random() < 0.03 THEN 'BREW5' ELSE '' END "
            "FROM (SELECT i, (ARRAY['EUR','EUR','USD','GBP','JPY'])[1 + floor(random() * 5)::int] AS c "
            "      FROM generate_series(1000000000, 1000000000 + %(orders)s - 1) i) x",
        ),
        (
            "spend",
            "INSERT INTO analytics_adspend (platform, day, source, medium, channel, campaign, ad_group, ad, impressions, "
            "clicks, cost, currency) "
            "SELECT (%(ad_platforms)s::text[])[a], d::date, (%(ad_sources)s::text[])[a], (%(ad_mediums)s::text[])[a], "
            "(%(ad_channels)s::text[])[a], (%(ad_campaigns)s::text[])[a], '', (%(ad_names)s::text[])[a], "
            "1000 + floor(random() * 9000)::int, 20 + floor(random() * 200)::int, round((10 + random() * 90)::numeric, 2), "
            "(%(ad_currencies)s::text[])[a] "
            "FROM generate_series(%(t0)s::date, %(t0)s::date + %(days)s - 1, interval '1 day') d, "
            "generate_series(1, array_length(%(ad_names)s::text[], 1)) a",
        ),
    ]
    for name, statement in steps:
        started = time.perf_counter()
        _sql(statement, p)
        print(f"  generated {name:<10} {time.perf_counter() - started:7.1f} s", flush=True)
    _sql(
        "SELECT setval(pg_get_serial_sequence('tracking_profile', 'id'), (SELECT max(id) FROM tracking_profile))"
    )
    _sql("SELECT setval(pg_get_serial_sequence('analytics_partner', 'id'), 1)")


def _generate_clv_orders(customers: int) -> int:
    """The CLV phase's order history: `customers` customers, each buying at a rate of their own (a
    purchase every 10–200 days) from a first day of their own during a lifetime of their own (a few
    days to beyond the end), so recency, frequency and lapses vary; in four currencies."""
    _sql("TRUNCATE analytics_ordercredit, analytics_orderfact, analytics_profileprediction, analytics_clvfit")
    _sql("SELECT setseed(0.17)")
    _sql(
        """
        INSERT INTO analytics_orderfact (event_id, profile_id, at, order_id, revenue, currency, coupon)
        SELECT 2000000000 + row_number() OVER (), c.id, c.first_at + k * c.gap * (0.7 + random() * 0.6),
               'c-' || row_number() OVER (),
               CASE cur WHEN 'JPY' THEN round((20 + random() * 120)::numeric * 160)
                        ELSE round((20 + random() * 120)::numeric * c.spend::numeric, 2) END, cur, ''
        FROM (
          SELECT i AS id,
                 %(t0)s::timestamptz + random() * %(days)s * interval '1 day' AS first_at,
                 (10 + power(random(), 2) * 190) * interval '1 day' AS gap,
                 -- lifetime in purchases: many buy once or twice, a few stay for long
                 1 + floor(-ln(1 - random() * 0.999) * 2.2)::int AS purchases,
                 0.5 + random() AS spend,
                 (ARRAY['EUR','EUR','USD','GBP','JPY'])[1 + floor(random() * 5)::int] AS cur
          FROM generate_series(1, %(customers)s) i
        ) c CROSS JOIN LATERAL generate_series(0, c.purchases - 1) k
        WHERE c.first_at + k * c.gap <= %(end)s::timestamptz
        """,
        {"t0": END - timedelta(days=DAYS - 1), "days": DAYS, "customers": customers, "end": END},
    )
    return _scalar("SELECT count(*) FROM analytics_orderfact")


def _plain(figures) -> list:
    rows = sorted(figures.rows, key=lambda r: (r.day or date.min, r.channel, r.campaign, r.creative))
    return [r.as_dict() for r in rows] + [figures.total.as_dict(), figures.missing_messages]


def _page(source: str, start: date, end: date, zone: str = "utc"):
    """The acquisition page's two calls: the table per channel and the daily trend."""
    from tracking.analytics.acquisition.figures import acquisition_figures

    table = acquisition_figures(start=start, end=end, level="channel", source=source, zone=zone)
    trend = acquisition_figures(start=start, end=end, level="day", source=source, zone=zone)
    return table, trend


def _ingest_rates(events: int, rounds: int) -> tuple[float, float]:
    """events/s of ingest + processing, with and without the touch-extraction receiver (alternating)."""
    import orjson

    from bench.ingest import batches_for_client
    from tracking import signals
    from tracking.analytics.receivers_acquisition import on_events_processed
    from tracking.ingest import ingest_messages
    from tracking.models import Source
    from tracking.processing import events_process_pending

    source, _ = Source.objects.get_or_create(name="bench-acquisition-ingest")
    rates: dict[bool, list[float]] = {True: [], False: []}
    seed = 100
    for round_no in range(rounds):
        for with_touches in (round_no % 2 == 0, round_no % 2 == 1):
            seed += 1
            messages = [
                m for body in batches_for_client(0, events, seed) for m in orjson.loads(body)["batch"]
            ]
            if not with_touches:
                signals.events_processed.disconnect(dispatch_uid="analytics-acquisition-touches")
            try:
                started = time.perf_counter()
                for i in range(0, len(messages), 2000):
                    ingest_messages(messages[i : i + 2000], source=source)
                    events_process_pending()
                rates[with_touches].append(len(messages) / (time.perf_counter() - started))
            finally:
                signals.events_processed.connect(
                    on_events_processed, dispatch_uid="analytics-acquisition-touches"
                )
    return statistics.median(rates[True]), statistics.median(rates[False])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--touches", type=int, default=600_000)
    parser.add_argument("--orders", type=int, default=30_000)
    parser.add_argument(
        "--events", type=int, default=20_000, help="per arm and round of the ingestion comparison"
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clv-customers", type=int, default=None, help="default: orders × 2 / 5")
    parser.add_argument(
        "--full", action="store_true", help="1M profiles, 6M touches, 300k orders, CLV on 300k customers"
    )
    parser.add_argument("--raw-runs", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="reuse the generated rows if the sizes match")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "acquisition.md"))
    args = parser.parse_args(argv)
    if args.full:
        args.profiles, args.touches, args.orders, args.events = 1_000_000, 6_000_000, 300_000, 0
        args.clv_customers = args.clv_customers or 300_000
    args.clv_customers = args.clv_customers or max(1, args.orders * 2 // 5)
    url = bench_db_url(DB_NAME)
    env = bench_env(url)
    bench_db_prepare(url, env)
    django_setup(env)
    from django.db import connection

    from tracking.analytics.acquisition.attribution import attribution_refresh
    from tracking.analytics.acquisition.rollup import acquisition_rollup_rebuild, acquisition_rollup_refold
    from tracking.analytics.clv.service import clv_fit_measured
    from tracking.analytics.money import fx_rates_ensure

    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    say("Acquisition benchmark")
    say(machine_describe({"postgres": str(connection.cursor().connection.info.server_version)}))
    one, five, fifteen = os.getloadavg()
    say(f"  load average at start     {one:.2f}, {five:.2f}, {fifteen:.2f} (1, 5, 15 min)")
    fx_rates_ensure()
    sizes = (args.profiles, args.touches, args.orders)
    have = (
        _scalar("SELECT count(*) FROM tracking_profile"),
        _scalar("SELECT count(*) FROM analytics_touch"),
        _scalar("SELECT count(*) FROM analytics_orderfact"),
    )
    if not (args.keep and have == sizes):
        _generate(*sizes)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    spend_rows = _scalar("SELECT count(*) FROM analytics_adspend")
    say(f"  profiles {sizes[0]:,}, touches {sizes[1]:,}, orders {sizes[2]:,}, spend rows {spend_rows:,} ({DAYS} days × 20 ads)")  # fmt: skip

    started = time.perf_counter()
    credits = attribution_refresh()
    say(f"  order credits (4 models)  {time.perf_counter() - started:7.2f} s ({credits:,} credit rows)")
    state = acquisition_rollup_rebuild()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE analytics_acquisitionday")
    say(f"  rollup rebuild            {state.seconds:7.2f} s ({_scalar('SELECT count(*) FROM analytics_acquisitionday'):,} rows: 3 zones × days × creatives)")  # fmt: skip
    dirty = [END - timedelta(days=400 + 2 * k) for k in range(30)]
    started = time.perf_counter()
    acquisition_rollup_refold(days=dirty)
    say(f"  refold of 30 dirty days   {time.perf_counter() - started:7.2f} s (spread over two months)")

    for label, start, zone in (
        ("last 30 days", END - timedelta(days=29), "utc"),
        ("two years", END - timedelta(days=DAYS - 1), "utc"),
        ("last 30 days, each profile's zone", END - timedelta(days=29), "profile"),
    ):
        fast, served = timed_median(lambda s=start, z=zone: _page("rollup", s, END, z), 5)
        slow, raw = timed_median(lambda s=start, z=zone: _page("raw", s, END, z), args.raw_runs)
        same = all(_plain(a) == _plain(b) for a, b in zip(served, raw, strict=True))
        say(f"  page, {label}: rollup {fast:7.3f} s (median of 5), raw {slow:7.3f} s "
            f"(median of {args.raw_runs}); raw / rollup {slow / fast:6.1f} x; figures equal: {same}")  # fmt: skip
        if not same:
            sys.exit("the rollup's figures differ from the raw recompute")

    if args.events:
        with_touches, without = _ingest_rates(args.events, args.rounds)
        say(f"  ingest + process in-process, {args.events:,} events per arm and round, {args.rounds} rounds (medians):")  # fmt: skip
        say(f"    without touch extraction {without:9,.0f} events/s")
        say(
            f"    with touch extraction    {with_touches:9,.0f} events/s   ratio {with_touches / without:5.2f}"
        )

    started = time.perf_counter()
    orders = _generate_clv_orders(args.clv_customers)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE analytics_orderfact")
    say(f"  CLV order history: {args.clv_customers:,} customers, {orders:,} orders (generated in {time.perf_counter() - started:.0f} s)")  # fmt: skip
    fit, peak_mib = clv_fit_measured(as_of=END, holdout_days=90)
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    say(f"  CLV fit on {fit.customers:,} customers ({fit.repeat_customers:,} repeat): {fit.seconds:.2f} s, "
        f"peak Python memory {peak_mib:.0f} MiB, process peak RSS {rss_mib:.0f} MiB")  # fmt: skip
    if fit.problems:
        say(f"    problems: {fit.problems}")
    else:
        say(
            f"    BG/NBD {_rounded(fit.params['bgnbd'])}, Gamma-Gamma {_rounded(fit.params.get('gamma_gamma', {}))}"
        )
        backtest = fit.backtest
        if backtest.get("problems"):
            say(f"    backtest: {backtest['problems']}")
        else:
            say(f"    backtest (fit to {backtest['calibration_end']}, next {backtest['holdout_days']} days): "
                f"predicted {backtest['predicted_orders']:,} purchase days, actual {backtest['actual_orders']:,}, "
                f"total error {backtest['total_error_pct']} %, mean absolute error per customer "
                f"{backtest['mean_absolute_error_per_customer']}")  # fmt: skip
        alive = _scalar(
            "SELECT array[percentile_cont(0.1) WITHIN GROUP (ORDER BY probability_alive), "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY probability_alive), "
            "percentile_cont(0.9) WITHIN GROUP (ORDER BY probability_alive)] FROM analytics_profileprediction"
        )
        say(f"    probability alive p10 / p50 / p90: {' / '.join(f'{v:.2f}' for v in alive)}")
    if args.out:
        Path(args.out).write_text(_markdown(args, lines))
        print(f"wrote {args.out}")


def _rounded(params: dict) -> str:
    return ", ".join(f"{k} {v:.4g}" for k, v in params.items())


def _markdown(args, lines: list[str]) -> str:
    command = " ".join(["python -m bench.acquisition", *sys.argv[1:]])
    return (
        "# Acquisition benchmark\n\n"
        f"`{command}` (profiles {args.profiles:,}, touches {args.touches:,}, orders {args.orders:,}, "
        f"CLV customers {args.clv_customers:,}, {args.events:,} events per in-process ingestion arm). "
        "What it measures and how: the docstring of "
        "`bench/acquisition.py`.\n\n```\n" + "\n".join(lines) + "\n```\n"
    )


if __name__ == "__main__":
    main()
