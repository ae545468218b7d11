"""Campaign report benchmark: one A/B broadcast to N recipients with E message events in total.

    python -m bench.reports [--recipients 50000] [--events 1000000] [--full] [--keep]

--full uses 1,000,000 recipients and 20,000,000 events. It uses its own database next to
DATABASE_URL's (voyage_bench_reports, migrated on start; the data is regenerated unless --keep and
the sizes match). Rows are generated in PostgreSQL with INSERT … SELECT generate_series: profiles in
six time zones, one message per recipient (variant A or B), each message's status timeline
(queued, sent, delivered, then for 40% of A and 60% of B opens and clicks spread over days), and an order event with
revenue for 3% of recipients.

It times, in the same run:
- the rebuild of every rollup from raw rows (reports_rebuild),
- the full campaign report (totals, daily series, tables per stage/variant/channel/template, holdout,
  A/B test — the page's queries) read from rollups (median of 5), then the same report computed
  from raw rows (median of --raw-runs), with the ratio raw / rollups, and checks both give equal figures,
- 10,000 fresh events: the report with them read live (not folded yet), then the fold that folds them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import psycopg

from bench.db import bench_db_prepare, bench_db_url, bench_env, django_setup
from bench.machine import load_average, machine_describe, timed_median

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "voyage_bench_reports"
ZONES = ["Asia/Tokyo", "America/Sao_Paulo", "Europe/Berlin", "America/New_York", "Australia/Sydney", "UTC"]


def _bench_db_url() -> str:
    return bench_db_url(DB_NAME)


def _env(url: str) -> dict[str, str]:
    return bench_env(url)


def _db_prepare(url: str) -> None:
    bench_db_prepare(url, _env(url))


def _django(url: str) -> None:
    django_setup(_env(url))


def _sql(statement: str, params: list | dict | None = None) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(statement, params)


def _generate(n: int, events: int) -> int:
    """Write the campaign's raw rows; returns the broadcast id."""
    from django.db import connection, transaction

    from channels.models import Template
    from journeys.models import Broadcast, BroadcastVariant
    from tracking.models import Source

    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE reports_hourlyrollup, reports_rollupcursor, reports_conversionfact, reports_messagecost, "
            "reports_messagefirst, reports_pendingprofile, channels_messageevent, channels_message, journeys_broadcastrecipient, "
            "journeys_broadcastvariant, journeys_broadcast, tracking_event, tracking_profile CASCADE"
        )
    with transaction.atomic():
        a, _ = Template.objects.get_or_create(slug="bench-a", defaults={"name": "A", "channel": "email"})
        b, _ = Template.objects.get_or_create(slug="bench-b", defaults={"name": "B", "channel": "email"})
        source, _ = Source.objects.get_or_create(name="bench-reports")
        broadcast = Broadcast.objects.create(
            name=f"Bench sale ({n:,} recipients)",
            audience_slug="all",
            status="sent",
            conversion_event="Order Completed",
        )
        BroadcastVariant.objects.bulk_create(
            [
                BroadcastVariant(broadcast=broadcast, key="A", template_slug="bench-a"),
                BroadcastVariant(broadcast=broadcast, key="B", template_slug="bench-b"),
            ]
        )
    # Every message has 3 timeline events; half the recipients (A 40%, B 60%) open, with the rest.
    per = 3 + max(1, round((events / n - 3) / 0.5))
    p = {"n": n, "zones": ZONES, "bid": broadcast.pk, "ta": a.pk, "tb": b.pk, "src": source.pk, "per": per}
    t0 = "timestamptz '2030-01-06 09:00+00'"
    steps = [
        (
            "profiles",
            "INSERT INTO tracking_profile (id, created_at, updated_at, traits, trait_updated_at, tags, timezone, locale, country) "
            "SELECT i, now(), now(), '{}', '{}', '[]', (%(zones)s::text[])[1 + i %% 6], '', '' FROM generate_series(1, %(n)s) i",
        ),
        (
            "recipients",
            f"INSERT INTO journeys_broadcastrecipient (broadcast_id, occurrence, profile_id, variant, phase, sent_at) "
            f"SELECT %(bid)s, 1, i, CASE WHEN i %% 2 = 0 THEN 'A' ELSE 'B' END, 'all', {t0} + (i %% 72) * interval '1 hour' "
            "FROM generate_series(1, %(n)s) i",
        ),
        (
            "messages",
            "INSERT INTO channels_message (id, profile_id, channel, template_id, topic, data, status, skip_reason, error, "
            "campaign_kind, campaign_id, stage_key, variant, idempotency_key, local_time, due_at, lease_owner, attempt_count, "
            "address, subject, created_at, sent_at, cost_currency, provider, provider_message_id, broadcast_recipient_id) "
            "SELECT i, i, 'email', CASE WHEN i %% 2 = 0 THEN %(ta)s ELSE %(tb)s END, 'marketing', '{}', 'delivered', '', '', "
            "'broadcast', %(bid)s, '', CASE WHEN i %% 2 = 0 THEN 'A' ELSE 'B' END, 'broadcast:' || %(bid)s || ':1:' || i, '', "
            f"{t0} + (i %% 72) * interval '1 hour', '', 1, '', '', {t0} + (i %% 72) * interval '1 hour', "
            f"{t0} + (i %% 72) * interval '1 hour' + interval '1 minute', '', 'sandbox', '', "
            "(SELECT r.id FROM journeys_broadcastrecipient r WHERE r.broadcast_id = %(bid)s AND r.occurrence = 1 "
            "AND r.profile_id = i) FROM generate_series(1, %(n)s) i",
        ),
        (
            "message events",
            # Event j of message i: queued, sent, delivered, then opens (B opens a little more) and clicks.
            "INSERT INTO channels_messageevent (message_id, kind, at, data) "
            "SELECT i, CASE WHEN j = 0 THEN 'queued' WHEN j = 1 THEN 'sent' WHEN j = 2 THEN 'delivered' "
            "WHEN (i * 7 + j) %% 5 = 0 THEN 'clicked' ELSE 'opened' END, "
            f"{t0} + (i %% 72) * interval '1 hour' + j * ((i %% 97) + 1) * interval '4 minutes', '{{}}' "
            "FROM generate_series(0, %(per)s - 1) j, generate_series(1, %(n)s) i "
            "WHERE j < 3 OR (i %% 10) < CASE WHEN i %% 2 = 0 THEN 4 ELSE 6 END",
        ),
        (
            "orders",
            "INSERT INTO tracking_event (source_id, message_id, type, name, user_id, anonymous_id, group_id, previous_id, "
            "properties, traits, context, received_at, timestamp, processed_at, profile_id) "
            "SELECT %(src)s, 'bench-order-' || i, 'track', 'Order Completed', '', '', '', '', "
            "jsonb_build_object('revenue', 10 + i %% 90), '{}', '{}', t, t, t, i FROM ("
            f"SELECT i, {t0} + (i %% 72) * interval '1 hour' + interval '2 days' AS t FROM generate_series(1, %(n)s) i "
            "WHERE i %% 100 < CASE WHEN i %% 2 = 0 THEN 2 ELSE 4 END) o",
        ),
    ]
    for name, statement in steps:
        started = time.perf_counter()
        _sql(statement, p)
        print(f"  generated {name:<15} {time.perf_counter() - started:7.1f} s", flush=True)
    for table in ("tracking_profile", "channels_message"):
        _sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    return broadcast.pk


def _count(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        return cur.fetchone()[0]


def _max_id(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f"SELECT COALESCE(max(id), 0) FROM {table}")
        return cur.fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--full", action="store_true", help="1,000,000 recipients, 20,000,000 events")
    parser.add_argument("--raw-runs", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="reuse the generated rows if they are there")
    args = parser.parse_args()
    n, e = (1_000_000, 20_000_000) if args.full else (args.recipients, args.events)
    url = _bench_db_url()
    _db_prepare(url)
    _django(url)
    from django.db import connection

    from journeys.models import Broadcast
    from journeys.reports.fold import rollups_fold, rollups_rebuild
    from journeys.reports.metrics import campaign_report

    print("Campaign report benchmark")
    print(machine_describe({"postgres": connection.cursor().connection.info.server_version.__str__()}))
    print(f"  load average at start     {load_average()}")
    existing = Broadcast.objects.filter(name=f"Bench sale ({n:,} recipients)").first()
    if args.keep and existing:
        bid = existing.pk
        print("  reusing generated rows")
    else:
        bid = _generate(n, e)
        with psycopg.connect(url, autocommit=True) as conn:
            started = time.perf_counter()
            conn.execute("VACUUM ANALYZE")
            print(f"  vacuum analyze           {time.perf_counter() - started:7.1f} s")
    events = _count("channels_messageevent")
    print(f"  recipients {n:,}, message events {events:,}, orders {_count('tracking_event'):,}")

    started = time.perf_counter()
    phases: list[tuple[str, float]] = []

    def progress(phase: str, done: int, total: int) -> None:
        phases.append((phase, time.perf_counter()))

    rollups_rebuild(progress=progress)
    rebuild = time.perf_counter() - started
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE reports_hourlyrollup")
    print(f"  rollup rebuild            {rebuild:7.2f} s ({_count('reports_hourlyrollup'):,} rollup rows)")
    previous = started
    for phase, at in phases:
        print(f"    {phase:<32} {at - previous:7.2f} s")
        previous = at

    campaign = ("broadcast", bid)

    def report(source: str):
        return campaign_report(campaign=campaign, tz="local", bucket="day", ab_metric="click", source=source)

    fast, from_rollups = timed_median(lambda: report("rollups"), 5)
    slow, from_raw = timed_median(lambda: report("raw"), args.raw_runs)
    same = from_rollups["total"] == from_raw["total"] and from_rollups["tables"] == from_raw["tables"]
    print(f"  report from rollups       {fast:7.3f} s (median of 5)")
    print(f"  report from raw rows      {slow:7.3f} s (median of {args.raw_runs})")
    print(f"  ratio raw / rollups       {slow / fast:7.1f} x   figures equal: {same}")
    print(f"  A/B: {from_rollups['ab'].sentence}")

    # Near real time: fresh rows are in the report before any fold.
    fresh_after = _max_id("channels_messageevent")
    _sql(
        "INSERT INTO channels_messageevent (message_id, kind, at, data) "
        "SELECT 1 + (i * 7919) %% %(n)s, 'opened', now(), '{}' FROM generate_series(1, 10000) i",
        {"n": n},
    )
    live, with_fresh = timed_median(lambda: report("rollups"), 3)
    assert with_fresh["total"]["opens_total"] == from_rollups["total"]["opens_total"] + 10_000
    started = time.perf_counter()
    stats = rollups_fold()
    fold_time = time.perf_counter() - started
    after, folded = timed_median(lambda: report("rollups"), 3)
    print(f"  report with 10,000 rows not folded yet {live:7.3f} s (they are counted)")
    print(f"  fold of those rows        {fold_time:7.3f} s ({stats.rows:,} rows)")
    folded_same = folded["total"] == with_fresh["total"] and folded["tables"] == with_fresh["tables"]
    print(f"  report after the fold     {after:7.3f} s   figures equal to the live read: {folded_same}")
    print(f"  load average at end       {load_average()}")
    # Keep the generated rows as generated, for --keep (the next run rebuilds the rollups first).
    _sql("DELETE FROM channels_messageevent WHERE id > %s", [fresh_after])
    if not same:
        sys.exit("figures from rollups and from raw rows differ")
    if not folded_same:
        sys.exit("figures after the fold differ from the live read before it")


if __name__ == "__main__":
    main()
