"""Audience benchmark: the compiler's full compute against hand-written SQL, and incremental updates.

    python -m bench.audiences [--profiles 100000] [--events 2000000] [--regenerate]
    python -m bench.audiences --profiles 1000000 --events 20000000      # the issue's full size

It uses its own PostgreSQL database next to DATABASE_URL's (default voyage_bench_audiences),
generated once with generate_series (indexes dropped during the load and rebuilt after) and reused
by later runs of the same size. For six representative audiences it prints the time of the
compiled rule (`profiles_matching(...).count()`), the time of a hand-written SQL query answering
the same question in the same run (checked to give the same count), and the ratio; then the first
full refresh (materialising membership), and the time to re-evaluate 1,000 profiles incrementally
after each got a new event, across all six audiences. Each timing is the median of --repeat runs
after one warm-up run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta

from bench.db import bench_db_prepare, bench_db_url, bench_env, django_setup
from bench.machine import machine_describe

CHUNK = 1_000_000

AUDIENCES: list[tuple[str, str, dict, str]] = [
    (
        "bench-trait",
        "trait filter (gold plan in US or DE)",
        {
            "all": [
                {"trait": "address.country", "op": "in", "value": ["US", "DE"]},
                {"trait": "plan", "op": "eq", "value": "gold"},
            ]
        },
        "SELECT id FROM tracking_profile WHERE traits->'address'->>'country' IN ('US', 'DE') "
        "AND traits->>'plan' = 'gold'",
    ),
    (
        "bench-count",
        "event count in window with property filter (2+ orders over 50 in 90 days)",
        {
            "event": "Order Completed",
            "count": {"gte": 2},
            "within_days": 90,
            "where": [{"property": "revenue", "op": "gt", "value": 50}],
        },
        "SELECT profile_id FROM tracking_event WHERE name = 'Order Completed' AND timestamp >= %(d90)s "
        "AND jsonb_typeof(properties->'revenue') = 'number' AND (properties->>'revenue')::numeric > 50 "
        "AND profile_id IS NOT NULL GROUP BY profile_id HAVING count(*) >= 2",
    ),
    (
        "bench-sum",
        "sum of revenue (over 300 in a year)",
        {"event": "Order Completed", "sum": {"property": "revenue", "gt": 300}, "within_days": 365},
        "SELECT profile_id FROM tracking_event WHERE name = 'Order Completed' AND timestamp >= %(d365)s "
        "AND profile_id IS NOT NULL GROUP BY profile_id HAVING sum(CASE WHEN jsonb_typeof(properties->'revenue') "
        "= 'number' THEN (properties->>'revenue')::numeric END) > 300",
    ),
    (
        "bench-a-not-b",
        "did A not B (added to cart, no order, 30 days)",
        {
            "all": [
                {"event": "Product Added", "within_days": 30},
                {"not": {"event": "Order Completed", "within_days": 30}},
            ]
        },
        "SELECT profile_id FROM tracking_event WHERE name = 'Product Added' AND timestamp >= %(d30)s "
        "AND profile_id IS NOT NULL EXCEPT SELECT profile_id FROM tracking_event "
        "WHERE name = 'Order Completed' AND timestamp >= %(d30)s",
    ),
    (
        "bench-sequence",
        "sequence (viewed, then ordered, within 30 days)",
        {"sequence": [{"event": "Product Viewed"}, {"event": "Order Completed"}], "within_days": 30},
        "SELECT DISTINCT a.profile_id FROM tracking_event a WHERE a.name = 'Product Viewed' "
        "AND a.timestamp >= %(d30)s AND a.profile_id IS NOT NULL AND EXISTS (SELECT 1 FROM tracking_event b "
        "WHERE b.profile_id = a.profile_id AND b.name = 'Order Completed' AND b.timestamp > a.timestamp)",
    ),
    (
        "bench-nested",
        "nested all/any/not with another audience",
        {
            "all": [
                {"audience": "bench-trait"},
                {"any": [{"tag": "vip"}, {"event": "Order Completed", "within_days": 30}]},
                {"not": {"event": "Email Link Clicked", "within_days": 30}},
            ]
        },
        "SELECT p.id FROM tracking_profile p WHERE p.traits->'address'->>'country' IN ('US', 'DE') "
        "AND p.traits->>'plan' = 'gold' AND (p.tags @> '[\"vip\"]' OR p.id IN (SELECT profile_id FROM "
        "tracking_event WHERE name = 'Order Completed' AND timestamp >= %(d30)s)) AND p.id NOT IN "
        "(SELECT profile_id FROM tracking_event WHERE name = 'Email Link Clicked' AND timestamp >= %(d30)s "
        "AND profile_id IS NOT NULL)",
    ),
]


# --- database and data ----------------------------------------------------------------------------


def dataset_ready(cursor, profiles: int, events: int) -> bool:
    cursor.execute(
        "CREATE TABLE IF NOT EXISTS bench_audiences_meta (profiles bigint, events bigint, made_at timestamptz)"
    )
    cursor.execute("SELECT profiles, events FROM bench_audiences_meta")
    return cursor.fetchone() == (profiles, events)


def dataset_generate(cursor, profiles: int, events: int) -> None:
    print(f"generating {profiles:,} profiles and {events:,} events (once; reused by later runs)…", flush=True)
    started = time.perf_counter()
    cursor.execute(
        "TRUNCATE tracking_event, tracking_profile, audiences_audience, audiences_computedtag CASCADE"
    )
    cursor.execute("DELETE FROM bench_audiences_meta")
    cursor.execute(
        "INSERT INTO tracking_source (name, write_key, enabled, created_at) VALUES ('bench', 'wk_bench_audiences', "
        "true, now()) ON CONFLICT DO NOTHING"
    )
    cursor.execute("SELECT id FROM tracking_source WHERE name = 'bench'")
    source_id = cursor.fetchone()[0]
    cursor.execute("SELECT setseed(0.42)")
    cursor.execute(
        """
        INSERT INTO tracking_profile (created_at, updated_at, first_seen_at, last_seen_at, traits,
                                      trait_updated_at, tags, timezone, locale, country)
        SELECT now(), now(), now() - random() * interval '400 days', now() - random() * interval '100 days',
               jsonb_build_object(
                   'plan', (ARRAY['gold', 'silver', 'free', 'free'])[1 + i %% 4],
                   'address', jsonb_build_object('country', (ARRAY['US', 'DE', 'FR', 'GB', 'JP'])[1 + (i * 7) %% 5]),
                   'age', 18 + (i * 13) %% 60,
                   'email', 'p' || i || '@example.com'),
               '{}'::jsonb,
               CASE WHEN i %% 20 = 0 THEN '["vip"]'::jsonb ELSE '[]'::jsonb END,
               (ARRAY['America/New_York', 'Europe/Berlin', 'Europe/Paris', 'Europe/London', 'Asia/Tokyo'])[1 + (i * 7) %% 5],
               '', (ARRAY['US', 'DE', 'FR', 'GB', 'JP'])[1 + (i * 7) %% 5]
        FROM generate_series(1, %(n)s) AS i
        """,
        {"n": profiles},
    )
    cursor.execute("SELECT min(id) FROM tracking_profile")
    first_id = cursor.fetchone()[0]
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'tracking_event' "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
    )
    indexes = cursor.fetchall()
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'tracking_event'::regclass "
        "AND contype IN ('u', 'f')"
    )
    constraints = cursor.fetchall()
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    for name, _ in constraints:
        cursor.execute(f'ALTER TABLE tracking_event DROP CONSTRAINT "{name}"')
    for start in range(0, events, CHUNK):
        stop = min(events, start + CHUNK)
        cursor.execute(
            """
            INSERT INTO tracking_event (source_id, message_id, type, name, user_id, anonymous_id, group_id,
                previous_id, profile_id, properties, traits, context, received_at, timestamp, processed_at)
            SELECT %(source)s, 'b' || g.i, 'track', g.name, '', '', '', '', %(first)s + floor(g.r2 * %(profiles)s)::bigint,
                   CASE WHEN g.name = 'Order Completed' THEN jsonb_build_object(
                            'revenue', round((5 + g.r3 * 195)::numeric, 2),
                            'products', jsonb_build_array(jsonb_build_object(
                                'sku', 'SKU-' || floor(g.r4 * 300)::int,
                                'category', (ARRAY['coffee', 'tea', 'gear'])[1 + floor(g.r4 * 3)::int])))
                        WHEN g.name IN ('Product Viewed', 'Product Added') THEN jsonb_build_object(
                            'sku', 'SKU-' || floor(g.r4 * 300)::int,
                            'category', (ARRAY['coffee', 'tea', 'gear'])[1 + floor(g.r4 * 3)::int])
                        ELSE '{}'::jsonb END,
                   '{}'::jsonb, '{}'::jsonb, g.ts, g.ts, g.ts
            FROM (
                SELECT i, r2, r3, r4, now() - r5 * interval '365 days' AS ts,
                       CASE WHEN r1 < 0.45 THEN 'Product Viewed' WHEN r1 < 0.60 THEN 'Product Added'
                            WHEN r1 < 0.70 THEN 'Order Completed' WHEN r1 < 0.85 THEN 'Email Opened'
                            WHEN r1 < 0.93 THEN 'Email Link Clicked' ELSE 'Checkout Started' END AS name
                FROM (SELECT i, random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5
                      FROM generate_series(%(start)s, %(stop)s - 1) AS i) r
            ) g
            """,
            {"source": source_id, "first": first_id, "profiles": profiles, "start": start, "stop": stop},
        )
        print(f"  {stop:,} events ({time.perf_counter() - started:.0f} s)", flush=True)
    print("  rebuilding indexes…", flush=True)
    for name, definition in constraints:
        cursor.execute(f'ALTER TABLE tracking_event ADD CONSTRAINT "{name}" {definition}')
    for _, definition in indexes:
        cursor.execute(definition)
    cursor.execute("INSERT INTO bench_audiences_meta VALUES (%s, %s, now())", [profiles, events])
    print(f"  generated in {time.perf_counter() - started:.0f} s", flush=True)


# --- timing ---------------------------------------------------------------------------------------


def timed(fn, repeat: int) -> tuple[float, object]:
    result = fn()  # warm-up: the first run pays for reading pages into the cache
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--incremental", type=int, default=1000, help="profiles re-evaluated incrementally")
    parser.add_argument("--database", default="voyage_bench_audiences")
    parser.add_argument("--regenerate", action="store_true", help="generate the dataset even if one exists")
    parser.add_argument(
        "--only", default="", help="comma-separated audience slugs to time (default: all six)"
    )
    parser.add_argument("--no-refresh", action="store_true", help="skip the first full refresh timings")
    args = parser.parse_args()

    if not os.environ.get("DATABASE_URL", "postgres").startswith("postgres"):
        sys.exit("DATABASE_URL must point at PostgreSQL")
    url = bench_db_url(args.database)
    bench_db_prepare(url, bench_env(url))
    django_setup(bench_env(url))
    from django.db import connection, transaction
    from django.utils import timezone

    from audiences.compiler import profiles_matching
    from audiences.models import Audience
    from audiences.signals import membership_changed

    # Measure audiences alone: what subscribers (journeys) do with entries has its own benchmark.
    membership_changed.receivers.clear()
    from audiences.services.membership import audience_refresh
    from audiences.services.reevaluation import events_reevaluate
    from audiences.testing import source_default
    from tracking.models import Event

    with connection.cursor() as cursor:
        if args.regenerate or not dataset_ready(cursor, args.profiles, args.events):
            dataset_generate(cursor, args.profiles, args.events)
        print("  analyzing…", flush=True)
        cursor.execute("VACUUM ANALYZE tracking_event")
        cursor.execute("VACUUM ANALYZE tracking_profile")

    print("Audience benchmark")
    print(machine_describe({"postgres": connection.cursor().connection.info.server_version.__str__()}))
    print(
        f"  dataset    {args.profiles:,} profiles, {args.events:,} events; median of {args.repeat} after a warm-up\n"
    )

    now = timezone.now()
    params = {
        "d30": now - timedelta(days=30),
        "d90": now - timedelta(days=90),
        "d365": now - timedelta(days=365),
    }
    Audience.objects.filter(slug__startswith="bench-").delete()
    audiences = [
        Audience.objects.create(slug=slug, name=label, rule=rule, refresh_every_minutes=0)
        for slug, label, rule, _ in AUDIENCES
    ]

    def hand(sql: str):
        def run() -> int:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT count(*) FROM ({sql}) AS x", params)
                return cursor.fetchone()[0]

        return run

    print(f"{'audience':<62} {'members':>9} {'compiled':>9} {'hand SQL':>9} {'ratio':>6}")
    worst = 0.0
    only = set(filter(None, args.only.split(",")))
    for slug, label, rule, sql in AUDIENCES:
        if only and slug not in only:
            continue
        compiled_s, compiled_n = timed(
            lambda rule=rule: profiles_matching(rule, now=now).count(), args.repeat
        )
        hand_s, hand_n = timed(hand(sql), args.repeat)
        if compiled_n != hand_n:
            print(f"  !! {slug}: compiled {compiled_n} members, hand-written {hand_n}")
        ratio = compiled_s / hand_s if hand_s else float("inf")
        worst = max(worst, ratio)
        print(f"{label:<62} {compiled_n:>9,} {compiled_s:>8.3f}s {hand_s:>8.3f}s {ratio:>5.2f}x")

    print("\nfirst full refresh (materialise membership, insert + diff):")
    for audience in [] if args.no_refresh else audiences:
        started = time.perf_counter()
        result = audience_refresh(audience_id=audience.pk, now=now)
        print(
            f"  {audience.slug:<20} {len(result.entered):>9,} entered in {time.perf_counter() - started:.3f}s"
        )

    if not args.no_refresh:
        print("\nsteady-state full refresh (rule run again, nothing changed, diff only):")
    for audience in [] if args.no_refresh else audiences:
        started = time.perf_counter()
        result = audience_refresh(audience_id=audience.pk, now=now)
        print(
            f"  {audience.slug:<20} {len(result.entered) + len(result.exited):>9,} changes in "
            f"{time.perf_counter() - started:.3f}s"
        )

    # Incremental: 1,000 profiles each get a new order and a click, then are re-evaluated against
    # the audiences those events can affect (all six mention one of them or are new to them).
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM tracking_profile ORDER BY random() LIMIT %s", [args.incremental])
        ids = [row[0] for row in cursor.fetchall()]
    source = source_default()
    with transaction.atomic():
        new = Event.objects.bulk_create(
            [
                Event(
                    source=source,
                    message_id=f"inc-{time.time_ns()}-{pid}-{name}",
                    type="track",
                    name=name,
                    profile_id=pid,
                    properties={"revenue": 75.0},
                    timestamp=now,
                    received_at=now,
                    processed_at=now,
                )
                for pid in ids
                for name in ("Order Completed", "Email Link Clicked")
            ]
        )
    started = time.perf_counter()
    changes = events_reevaluate(event_ids=[e.pk for e in new], profile_ids=ids)
    incremental_s = time.perf_counter() - started
    print(
        f"\nincremental: {len(ids):,} profiles with new events re-evaluated against the affected audiences "
        f"in {incremental_s:.3f}s ({changes} membership changes)"
    )
    print(f"\nworst ratio {worst:.2f}x (target ≤ 1.5x); incremental {incremental_s:.3f}s (target < 1 s)")


if __name__ == "__main__":
    main()
