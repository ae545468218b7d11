"""Behaviour analytics benchmark: funnel, retention and the rollup pages on a generated shop.

    python -m bench.analytics [--profiles 50000] [--events 1000000] [--full] [--keep] [--write]

--full is the issue's size: 1,000,000 profiles and 20,000,000 events. The rows are generated inside
PostgreSQL (INSERT … SELECT generate_series; no Python loop) in the benchmark's own database
(voyage_bench_analytics, migrated on start; regenerated unless --keep and the sizes match): profiles in
ten countries, each with sessions of five events spread over weeks (promotion views and clicks,
searches with a results count — some keywords never find anything —, product clicks with a position,
views, adds, checkouts and orders with products, revenue and a currency).

In the same run it times, each against a baseline answering the same question:
- a 3-step funnel (Product Viewed → Product Added → Order Completed, sequential, 7-day window, 30 days,
  breakdown by country) as the page computes it (funnel_compute: counts, medians, time-to-convert
  histogram, daily series, breakdown) against a hand-written SQL query (lateral index lookups) giving
  the counts per step in total and per country; results checked equal;
- a 12-week retention table (first Product Viewed → Product Viewed, weekly cohorts) against a
  hand-written SQL query; cohort tables checked equal;
- the search keyword, slot and affinity pages read from their rollups (median of 5) against the raw
  recompute (the raw-event queries the pages use for other settings), checked equal; and the rollup
  rebuild.
--write puts the figures (and the machine) into docs/benchmarks/analytics.md.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

from bench.db import bench_db_prepare, bench_db_url, bench_env, django_setup
from bench.machine import load_average, machine_describe, timed_median

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "voyage_bench_analytics"
COUNTRIES = ["DE", "FR", "US", "GB", "NL", "ES", "IT", "PL", "SE", "JP"]
ZONES = ["Europe/Berlin", "Europe/Paris", "America/New_York", "Europe/London", "Europe/Amsterdam"]
T0 = date(2026, 6, 1)  # a Monday; the data spans about 20 weeks from here
FUNNEL_FROM, FUNNEL_DAYS = T0 + timedelta(days=40), 30
PAGES_FROM, PAGES_DAYS = T0 + timedelta(days=56), 28
WINDOW_MINUTES = 7 * 24 * 60
QUERIES = [
    "shoes", "red shoes", "t-shirt", "tee", "lamp", "desk lamp", "socks", "jacket", "rain jacket", "bag",
    "backpack", "mug", "candle", "plant", "vase", "sofa", "chair", "rug", "towel", "pillow",
    "blue sofa", "linen", "kids", "gift", "sale",
    # never found: unmet demand
    "waterproof boots", "standing desk", "wok", "espresso machine", "yoga mat",
]  # fmt: skip


def _env(url: str) -> dict[str, str]:
    return bench_env(url)


def _sql(statement: str, params: list | dict | None = None):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall() if cur.description else None


def _analysis_sql(statement: str, params: list | dict | None = None):
    """A hand-written query with the session settings the analyses get (work_mem, no JIT)."""
    from tracking.analytics.behaviour.common import analysis_cursor

    with analysis_cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall()


# --- data --------------------------------------------------------------------------------------------

# Event j of profile i: session j / 5 (sessions (i % 13) + 1 days apart), step j % 5 inside it.
# h is a cheap deterministic hash of (i, j) that picks names and properties.
EVENTS_SQL = """
INSERT INTO tracking_event (source_id, message_id, type, name, user_id, anonymous_id, group_id, previous_id,
                            properties, traits, context, received_at, timestamp, processed_at, profile_id)
SELECT %(src)s, 'b-' || i || '-' || j, 'track', name, '', '', '', '', props, '{}',
       jsonb_build_object('device', jsonb_build_object('type', CASE WHEN h %% 3 = 0 THEN 'desktop' ELSE 'mobile' END)),
       ts, ts, ts, i
FROM (
    SELECT i, j, h, ts,
        CASE s
            WHEN 0 THEN CASE WHEN h %% 100 < 45 THEN 'Promotion Viewed' ELSE 'Products Searched' END
            WHEN 1 THEN CASE WHEN h %% 100 < 12 THEN 'Promotion Clicked' WHEN h %% 100 < 55 THEN 'Product Clicked'
                             ELSE 'Product Viewed' END
            WHEN 2 THEN 'Product Viewed'
            WHEN 3 THEN CASE WHEN h %% 100 < 45 THEN 'Product Added' ELSE 'Product Viewed' END
            ELSE CASE WHEN h %% 100 < 22 THEN 'Order Completed' WHEN h %% 100 < 40 THEN 'Checkout Started'
                      ELSE 'Product Viewed' END
        END AS name,
        CASE s
            WHEN 0 THEN CASE WHEN h %% 100 < 45
                THEN jsonb_build_object('promotion_id', 'promo-' || h %% 12, 'creative', 'c' || h %% 3,
                                        'position', (ARRAY['hero', 'side', 'footer'])[1 + h %% 3])
                ELSE jsonb_build_object('query', q.query,
                                        'results_count', CASE WHEN q.n > 25 THEN 0 ELSE h %% 40 END) END
            WHEN 1 THEN CASE WHEN h %% 100 < 12
                THEN jsonb_build_object('promotion_id', 'promo-' || h %% 12, 'creative', 'c' || h %% 3,
                                        'position', (ARRAY['hero', 'side', 'footer'])[1 + h %% 3])
                ELSE jsonb_build_object('product_id', 'p' || h %% 400, 'category', 'cat' || (h %% 400) %% 25,
                                        'position', 1 + (h / 7) %% 8) END
            WHEN 4 THEN CASE WHEN h %% 100 < 22
                THEN jsonb_build_object('order_id', 'o-' || i || '-' || j, 'revenue', 20 + h %% 180,
                                        'currency', CASE WHEN h %% 10 = 0 THEN 'USD' ELSE 'EUR' END,
                                        'products', jsonb_build_array(
                                            jsonb_build_object('product_id', 'p' || h %% 400, 'category', 'cat' || (h %% 400) %% 25),
                                            jsonb_build_object('product_id', 'p' || (h / 3) %% 400, 'category', 'cat' || ((h / 3) %% 400) %% 25)))
                ELSE jsonb_build_object('product_id', 'p' || h %% 400, 'category', 'cat' || (h %% 400) %% 25) END
            ELSE jsonb_build_object('product_id', 'p' || h %% 400, 'category', 'cat' || (h %% 400) %% 25)
        END AS props
    FROM (
        SELECT i, j, j %% 5 AS s, (i::bigint * 2654435761 + j * 40503) %% 1000003 AS h,
               timestamptz %(t0)s + (i %% 84) * interval '1 day' + (i %% 1380) * interval '1 minute'
                 + (j / 5) * ((i %% 13) + 1) * interval '1 day'
                 + (j %% 5) * (3 + (i + j) %% 20) * interval '1 minute' AS ts
        FROM generate_series(1, %(n)s) i, generate_series(0, %(per)s - 1) j
        ORDER BY ts, i, j
    ) g
    LEFT JOIN LATERAL (SELECT (%(queries)s::text[])[1 + (g.h / 11) %% 30] AS query, 1 + (g.h / 11) %% 30 AS n) q ON true
) e
"""


def _generate(url: str, n: int, events: int) -> None:
    """Fill the shop: profiles, then events in timestamp order (as ingestion writes them, so a date
    range is a contiguous stretch of the heap), with the event table's indexes dropped during the
    load and rebuilt after it (one sorted build each instead of 20 M random insertions)."""
    from tracking.models import Source

    source, _ = Source.objects.get_or_create(name="bench-analytics")
    per = max(5, round(events / n))
    p = {
        "n": n,
        "per": per,
        "src": source.pk,
        "t0": T0.isoformat(),
        "queries": QUERIES,
        "zones": ZONES,
        "countries": COUNTRIES,
    }
    # Client-side binding: the statements use typed literals of parameters (timestamptz %(t0)s).
    with psycopg.connect(url, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
        conn.execute(
            "TRUNCATE analytics_searchday, analytics_searchcredit, analytics_slotday, analytics_slotcredit, "
            "analytics_affinityitemday, analytics_affinitypairday, analytics_repurchasefact, analytics_rollupday, "
            "analytics_rollupdirty, analytics_touch, tracking_event, tracking_profile CASCADE"
        )
        conn.execute("SET work_mem = '1GB'")
        conn.execute("SET maintenance_work_mem = '2GB'")
        conn.execute("SET max_parallel_maintenance_workers = 2")
        conn.execute("SET synchronous_commit = off")
        # Foreign keys and unique constraints are checked once when re-added, not per inserted row.
        constraints = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'tracking_event'::regclass AND contype IN ('f', 'u') ORDER BY contype DESC"
        ).fetchall()
        for constraint, _ in constraints:
            conn.execute(f'ALTER TABLE tracking_event DROP CONSTRAINT "{constraint}"')
        indexes = conn.execute(
            "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = 'tracking_event'::regclass AND NOT x.indisprimary"
        ).fetchall()
        for index, _ in indexes:
            conn.execute(f'DROP INDEX "{index}"')
        for name, statement in (
            (
                "profiles",
                "INSERT INTO tracking_profile (id, created_at, updated_at, traits, trait_updated_at, tags, timezone, locale, country) "
                "SELECT i, now(), now(), '{}', '{}', '[]', (%(zones)s::text[])[1 + i %% 5], '', (%(countries)s::text[])[1 + i %% 10] "
                "FROM generate_series(1, %(n)s) i",
            ),
            ("events", EVENTS_SQL),
        ):
            started = time.perf_counter()
            conn.execute(statement, p)
            print(f"  generated {name:<10} {time.perf_counter() - started:8.1f} s", flush=True)
        started = time.perf_counter()
        for _, definition in indexes:
            conn.execute(definition)
        for constraint, definition in reversed(constraints):
            conn.execute(f'ALTER TABLE tracking_event ADD CONSTRAINT "{constraint}" {definition}')
        print(f"  indexes built     {time.perf_counter() - started:8.1f} s", flush=True)
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('tracking_profile', 'id'), (SELECT max(id) FROM tracking_profile))"
        )


# --- funnel ------------------------------------------------------------------------------------------

# What an engineer who knows PostgreSQL would write for exactly this question: the three names, no
# filters, UTC, one breakdown, counts only. Each view's next add is the first add after it and that
# add's next order the first order after the add; both are running minimums over the profile's later
# events (one sort, two window passes), then the best attempt per profile and GROUPING SETS.
HAND_FUNNEL = """
WITH ev AS (
    SELECT profile_id AS pid, timestamp AS ts, id, name FROM tracking_event
    WHERE name IN ('Product Viewed', 'Product Added', 'Order Completed')
      AND timestamp >= %(lo)s AND timestamp < %(hi)s + %(w)s AND profile_id IS NOT NULL
),
o AS (
    SELECT *, min(ts) FILTER (WHERE name = 'Order Completed') OVER later AS next_order FROM ev
    WINDOW later AS (PARTITION BY pid ORDER BY ts DESC, id DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
a AS (
    SELECT *, min(ts) FILTER (WHERE name = 'Product Added') OVER later AS t2,
              min(next_order) FILTER (WHERE name = 'Product Added') OVER later AS t3 FROM o
    WINDOW later AS (PARTITION BY pid ORDER BY ts DESC, id DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
best AS (
    SELECT pid, max(1 + coalesce(t2 <= ts + %(w)s, false)::int + coalesce(t3 <= ts + %(w)s, false)::int) AS r FROM a
    WHERE name = 'Product Viewed' AND ts >= %(lo)s AND ts < %(hi)s GROUP BY pid
)
SELECT GROUPING(p.country) AS total, NULLIF(p.country, ''), count(*), count(*) FILTER (WHERE r >= 2),
       count(*) FILTER (WHERE r >= 3)
FROM best JOIN tracking_profile p ON p.id = best.pid
GROUP BY GROUPING SETS ((p.country), ())
"""


def _funnel_definition() -> dict:
    return {
        "steps": [{"event": "Product Viewed"}, {"event": "Product Added"}, {"event": "Order Completed"}],
        "order": "sequential",
        "window_minutes": WINDOW_MINUTES,
        "breakdown": [{"kind": "country"}],
        "date_from": FUNNEL_FROM.isoformat(),
        "date_to": (FUNNEL_FROM + timedelta(days=FUNNEL_DAYS - 1)).isoformat(),
        "tz": "utc",
    }


def _funnel_hand() -> dict:
    lo = datetime.combine(FUNNEL_FROM, datetime.min.time(), tzinfo=UTC)
    rows = _analysis_sql(
        HAND_FUNNEL,
        {"lo": lo, "hi": lo + timedelta(days=FUNNEL_DAYS), "w": timedelta(minutes=WINDOW_MINUTES)},
    )
    out = {"total": None, "groups": {}}
    for total, country, *counts in rows:
        if total:
            out["total"] = list(counts)
        else:
            out["groups"][country] = list(counts)
    return out


def _funnel_ours(result: dict) -> dict:
    return {
        "total": [s["count"] for s in result["steps"]],
        "groups": {g["values"][0]: [s["count"] for s in g["steps"]] for g in result["breakdown"]},
    }


# --- retention ---------------------------------------------------------------------------------------

# Hand-written for exactly this question: UTC weeks by arithmetic on the epoch (no zones), the first
# view per profile by min(), the return weeks of the cohort's members by DISTINCT.
HAND_RETENTION = """
WITH f AS (
    SELECT profile_id AS pid, min(timestamp) AS ts FROM tracking_event
    WHERE name = 'Product Viewed' AND profile_id IS NOT NULL AND timestamp < %(hi)s GROUP BY 1
),
cohort AS MATERIALIZED (
    SELECT pid, floor(extract(epoch FROM ts - %(epoch)s) / 604800)::int AS c FROM f WHERE ts >= %(lo)s
),
r AS (
    SELECT DISTINCT profile_id AS pid, floor(extract(epoch FROM timestamp - %(epoch)s) / 604800)::int AS w
    FROM tracking_event
    WHERE name = 'Product Viewed' AND timestamp >= %(lo)s AND timestamp < %(rhi)s
      AND profile_id IN (SELECT pid FROM cohort)
)
SELECT c, 0, count(*) FROM cohort GROUP BY 1
UNION ALL
SELECT cohort.c, r.w - cohort.c, count(*) FROM cohort JOIN r USING (pid) WHERE r.w - cohort.c BETWEEN 1 AND 11 GROUP BY 1, 2
"""


def _retention_definition() -> dict:
    return {
        "start": {"event": "Product Viewed"},
        "return": {"event": "Product Viewed"},
        "mode": "first_time",
        "period": "week",
        "periods": 12,
        "date_from": T0.isoformat(),
        "date_to": (T0 + timedelta(weeks=12, days=-1)).isoformat(),
        "tz": "utc",
    }


def _retention_hand() -> dict:
    from tracking.analytics.behaviour.retention import EPOCH

    lo = datetime.combine(T0, datetime.min.time(), tzinfo=UTC)
    hi = lo + timedelta(weeks=12)
    epoch = datetime.combine(EPOCH, datetime.min.time(), tzinfo=UTC)
    rows = _analysis_sql(
        HAND_RETENTION, {"lo": lo, "hi": hi, "rhi": hi + timedelta(weeks=13), "epoch": epoch}
    )
    return {(c, k): n for c, k, n in rows if n}


def _retention_ours(result: dict) -> dict:
    return {(c["period_no"], x["k"]): x["count"] for c in result["cohorts"] for x in c["cells"] if x["count"]}


# --- run ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profiles", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--full", action="store_true", help="1,000,000 profiles, 20,000,000 events")
    parser.add_argument("--keep", action="store_true", help="reuse the generated rows if the sizes match")
    parser.add_argument("--runs", type=int, default=3, help="runs per timed query (median)")
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks/analytics.md")
    parser.add_argument("--generate-only", action="store_true", help="generate (or keep) the rows and stop")
    parser.add_argument(
        "--skip-rollups",
        action="store_true",
        help="time the funnel and retention only (not the rollup pages)",
    )
    args = parser.parse_args()
    n, e = (1_000_000, 20_000_000) if args.full else (args.profiles, args.events)
    url = bench_db_url(DB_NAME)
    bench_db_prepare(url, _env(url))
    django_setup(_env(url))
    from django.db import connection

    from tracking.analytics.behaviour import affinity, funnels, retention, rollups, search, slots
    from tracking.analytics.behaviour.common import DateRange
    from tracking.analytics.money import fx_rates_ensure

    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    pg = connection.cursor().connection.info.server_version
    machine = machine_describe({"postgres": str(pg)})
    print("Behaviour analytics benchmark")
    print(machine)
    load_start = load_average()
    have = _sql("SELECT count(*) FROM tracking_profile")[0][0]
    if args.keep and have == n:
        print("  reusing generated rows")
    else:
        _generate(url, n, e)
        with psycopg.connect(url, autocommit=True) as conn:
            started = time.perf_counter()
            conn.execute("VACUUM ANALYZE")
            print(f"  vacuum analyze      {time.perf_counter() - started:8.1f} s")
    if args.generate_only:
        return
    fx_rates_ensure()
    events = _sql("SELECT count(*) FROM tracking_event")[0][0]
    say(f"Dataset: {n:,} profiles, {events:,} events; load average at start {load_start}")
    say("")
    say("| measure | ours | baseline | ratio ours / baseline | equal |")
    say("|---|---:|---:|---:|---|")

    # Funnel.
    defn = funnels.funnel_parse(_funnel_definition())
    ours_t, ours = timed_median(lambda: funnels.funnel_compute(definition=defn), args.runs)
    hand_t, hand = timed_median(_funnel_hand, args.runs)
    same = _funnel_ours(ours) == hand
    say(
        f"| funnel, 3 steps, 7-day window, 30 days, by country | {ours_t:.2f} s | {hand_t:.2f} s hand-written SQL | {ours_t / hand_t:.2f}× | {same} |"
    )
    lo = datetime.combine(FUNNEL_FROM, datetime.min.time(), tzinfo=UTC)
    scan_t, scanned = timed_median(
        lambda: _sql(
            "SELECT count(*) FROM tracking_event WHERE name IN ('Product Viewed', 'Product Added', 'Order Completed') "
            "AND timestamp >= %s AND timestamp < %s AND profile_id IS NOT NULL",
            [lo, lo + timedelta(days=FUNNEL_DAYS, minutes=WINDOW_MINUTES)],
        )[0][0],
        args.runs,
    )

    # Retention.
    rdefn = retention.retention_parse(_retention_definition())
    now = datetime.now(UTC)
    r_t, r_ours = timed_median(lambda: retention.retention_compute(definition=rdefn, now=now), args.runs)
    rh_t, r_hand = timed_median(_retention_hand, args.runs)
    r_same = _retention_ours(r_ours) == r_hand
    say(
        f"| retention, 12 weekly cohorts × 12 weeks | {r_t:.2f} s | {rh_t:.2f} s hand-written SQL | {r_t / rh_t:.2f}× | {r_same} |"
    )

    funnel_line = (
        f"Funnel: {scanned:,} step events in the range + window; reading them alone takes {scan_t:.2f} s. "
        f"Steps {_funnel_ours(ours)['total']} (profiles)."
    )
    if args.skip_rollups:
        say("")
        say(funnel_line)
        say(f"Load average at end: {load_average()}.")
        if args.write:
            _write(n, e, machine, lines)
        return

    # Rollups.
    started = time.perf_counter()
    phases: dict[str, float] = {}
    for kind in rollups.KINDS:
        t = time.perf_counter()
        rollups.rollup_rebuild(kinds=[kind], chunk_days=7)
        phases[kind] = time.perf_counter() - t
    rebuild_t = time.perf_counter() - started
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    rng = DateRange(PAGES_FROM, PAGES_FROM + timedelta(days=PAGES_DAYS - 1), "utc")
    s_opt = search.SearchOptions(rng, search.ROLLUP_WINDOW_MINUTES)
    sl_opt = slots.SlotOptions(rng, slots.ROLLUP_WINDOW_HOURS)
    a_rng = DateRange(T0, T0 + timedelta(days=89), "utc")
    a_opt = affinity.AffinityOptions(a_rng, "product", "order", 30, 2)
    page_rows = {}
    for label, fast_fn, raw_fn in (
        ("search keywords page, 28 days", lambda: search.search_rows_rollup(options=s_opt), lambda: search.search_rows(options=s_opt)),
        ("slots page, 28 days", lambda: slots.slots_rows_rollup(options=sl_opt), lambda: slots.slots_rows(options=sl_opt)),
        ("affinity page (products, same order), 90 days", lambda: affinity.affinity_rows_rollup(options=a_opt), lambda: affinity.affinity_rows(options=a_opt)),
    ):  # fmt: skip
        fast_t, fast = timed_median(fast_fn, 5)
        raw_t, raw = timed_median(raw_fn, 1)
        page_rows[label] = fast
        say(
            f"| {label} | {fast_t:.3f} s from rollups | {raw_t:.2f} s raw recompute | {fast_t / raw_t:.4f}× ({raw_t / fast_t:.0f}× faster) | {fast == raw} |"
        )
    say("")
    say(
        f"Rollup rebuild: {rebuild_t:.1f} s ("
        + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items())
        + "); rollup rows: "
        + ", ".join(
            f"{t} {_sql(f'SELECT count(*) FROM analytics_{t}')[0][0]:,}"
            for t in (
                "searchday",
                "searchcredit",
                "slotday",
                "slotcredit",
                "affinityitemday",
                "affinitypairday",
                "repurchasefact",
            )
        )
        + "."
    )
    say(funnel_line)
    zero = [r["keyword"] for r in page_rows["search keywords page, 28 days"] if "zero_results" in r["flags"]]
    say(f"Zero-result keywords flagged: {', '.join(zero)}.")
    say(f"Load average at end: {load_average()}.")
    if args.write:
        _write(n, e, machine, lines)


def _write(n: int, e: int, machine: str, lines: list[str]) -> None:
    path = ROOT / "docs" / "benchmarks" / "analytics.md"
    text = path.read_text() if path.exists() else "# Behaviour analytics benchmark\n"
    marker = "<!-- results -->"
    head = text.split(marker)[0] if marker in text else text
    size = f"{n:,} profiles / {e:,} events requested"
    body = "\n".join(lines)
    path.write_text(f"{head}{marker}\n## Last run ({size})\n\n```\n{machine}\n```\n\n{body}\n")
    print(f"  wrote {path}")


if __name__ == "__main__":
    main()
