"""Journey engine benchmark: enroll N profiles into a four-stage journey with a send and a delay, advance them.

    python -m bench.journeys [--profiles 5000] [--full] [--batch-size 1000]

--full uses 1,000,000 profiles. It uses its own database next to DATABASE_URL's
(voyage_bench_journeys, migrated on start; profiles are reused between runs). The journey:

    welcome (send an email) --after 1 day--> nudge --after 2 hours--> last --after 0 minutes--> done (exit)

For one worker process and then for two (each on its own fresh runs of its own journey), it times:
- enrollment of every profile (one set-based pass),
- pass 1 "as of entry": every run enters "welcome" and gets its message (N transitions, N messages),
- pass 2 "as of two days later": every run goes nudge → last → done (3N transitions, no sends),
and the time until every run reached the end. Workers are separate processes claiming batches with
SELECT … FOR UPDATE SKIP LOCKED and a lease, exactly as Celery workers do (runs_advance_due).

Baseline in the same run: hand-written SQL doing the least any engine must do per transition on the
same tables (one INSERT … SELECT of the step rows and one UPDATE of the runs, for the whole set at
once, no decisions, no messages). Ratios are engine / baseline. It then checks that no run advanced
twice: exactly four RunSteps per run, (run, seq) unique, one message per run.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.db import bench_db_prepare, bench_db_url, bench_env, django_setup
from bench.machine import load_average, machine_describe

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "voyage_bench_journeys"
T0 = datetime(2030, 1, 6, 9, 0, tzinfo=UTC)


def _bench_db_url() -> str:
    return bench_db_url(DB_NAME)


def _env(url: str) -> dict[str, str]:
    return bench_env(
        url,
        # The benchmark drives the engine itself; no wake-up tasks, no channel dispatch.
        JOURNEYS_WAKE_ON_COMMIT="0",
        CHANNELS_DISPATCH_ON_COMMIT="0",
    )


def _db_prepare(url: str) -> None:
    bench_db_prepare(url, _env(url))


def _django(url: str) -> None:
    django_setup(_env(url))


def _definition(slug: str) -> dict:
    return {
        "slug": slug,
        "name": f"Benchmark {slug}",
        "entry": {"event": "Bench Entered"},
        "reentry": "after_exit",
        "stages": [
            {"key": "welcome", "actions": [{"send": {"channel": "email", "template": "bench-mail"}}],
             "transitions": [{"to": "nudge", "after": {"days": 1}}]},
            {"key": "nudge", "transitions": [{"to": "last", "after": {"hours": 2}}]},
            {"key": "last", "transitions": [{"to": "done", "after": {"minutes": 0}}]},
            {"key": "done", "exit": True},
        ],
    }  # fmt: skip


def _setup(n: int) -> None:
    from django.db import connection

    from channels.models import Template, TemplateVariant
    from journeys.models import Journey
    from tracking.models import Profile

    have = Profile.objects.count()
    if have < n:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO tracking_profile (created_at, updated_at, traits, trait_updated_at, tags, timezone, "
                "locale, country) SELECT now(), now(), '{}', '{}', '[]', '', '', '' FROM generate_series(1, %s)",
                [n - have],
            )
    template, _ = Template.objects.get_or_create(
        slug="bench-mail", defaults={"name": "Bench", "channel": "email"}
    )
    TemplateVariant.objects.get_or_create(
        template=template, locale="en", defaults={"subject": "Hi", "text": "Hi"}
    )
    # Fresh runs every time: earlier benchmark journeys and their runs, steps and messages go.
    # TRUNCATE (this database is the benchmark's own), so no run starts on tables full of dead rows.
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE channels_messageevent, channels_message, journeys_runstep, journeys_run CASCADE"
        )
        if _table_exists(cursor, "bench_baseline_step"):
            cursor.execute("TRUNCATE bench_baseline_step")
    Journey.objects.all().delete()


def _analyze() -> None:
    """Planner statistics for the tables a pass reads, untimed: what autovacuum's analyze keeps
    current on a live server (autovacuum may be off on a benchmark box, and these tables were just
    truncated and refilled, so without it the planner would take a million-row table for empty)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tracking_profile, journeys_run, journeys_runstep, channels_message")


def _table_exists(cursor, name: str) -> bool:
    cursor.execute("SELECT to_regclass(%s)", [name])
    return cursor.fetchone()[0] is not None


def _journey(slug: str):
    from journeys.models import Journey
    from journeys.services.versions import journey_create, version_publish

    Journey.objects.filter(slug=slug).delete()
    journey = journey_create(definition=_definition(slug))
    version_publish(version=journey.versions.get(), now=T0 - timedelta(days=1))
    journey.refresh_from_db()
    return journey


def _enroll(journey, profile_ids: list[int]) -> float:
    from journeys.services.entry import EntryCandidate, runs_enroll

    started = time.perf_counter()
    result = runs_enroll(
        journey=journey, candidates=(EntryCandidate(pid, "bench", T0) for pid in profile_ids), wake=False
    )
    assert result.created == len(profile_ids), result.refused
    return time.perf_counter() - started


def _worker(url: str, now_iso: str, batch_size: int, queue: mp.Queue) -> None:
    _django(url)
    from journeys.engine.runner import runs_advance_due

    started = time.time()
    result = runs_advance_due(now=datetime.fromisoformat(now_iso), batch_size=batch_size)
    queue.put((result.runs, result.transitions, result.batches, started, time.time()))


def _advance(url: str, now: datetime, workers: int, batch_size: int) -> tuple[float, int]:
    """Run `workers` engine processes until nothing is due; returns (seconds, transitions)."""
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(url, now.isoformat(), batch_size, queue)) for _ in range(workers)
    ]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    # From the first worker's start of work to the last one's end: process spawn and Django set-up
    # are not engine time.
    elapsed = max(r[4] for r in results) - min(r[3] for r in results)
    return elapsed, sum(r[1] for r in results)


def _baseline(n: int) -> float:
    """The floor: write N step rows and move N runs with two set-based statements, nothing else."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_baseline_step (LIKE journeys_runstep INCLUDING DEFAULTS INCLUDING INDEXES)"
        )
        cursor.execute("TRUNCATE bench_baseline_step")
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_baseline_step (id, run_id, seq, stage_key, from_stage, reason, at, detail, worker) "
            "SELECT r.id, r.id, r.visits + 100, 'x', r.stage_key, 'baseline', now(), '{}', '' "
            "FROM journeys_run r LIMIT %s",
            [n],
        )
        cursor.execute(
            "UPDATE journeys_run SET stage_entered_at = stage_entered_at, due_at = due_at "
            "WHERE id IN (SELECT id FROM journeys_run LIMIT %s)",
            [n],
        )
    return time.perf_counter() - started


def _check(journey_ids: list[int], n_each: int) -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM journeys_run WHERE journey_id = ANY(%s) AND status <> 'completed'",
            [journey_ids],
        )
        unfinished = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM (SELECT s.run_id FROM journeys_runstep s JOIN journeys_run r ON r.id = s.run_id "
            "WHERE r.journey_id = ANY(%s) GROUP BY s.run_id HAVING count(*) <> 4) x",
            [journey_ids],
        )
        wrong_steps = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM (SELECT run_id, seq FROM journeys_runstep GROUP BY run_id, seq HAVING count(*) > 1) x"
        )
        duplicate_seq = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM channels_message WHERE campaign_kind='journey' AND campaign_id = ANY(%s)",
            [journey_ids],
        )
        messages = cursor.fetchone()[0]
    return {
        "runs not finished": unfinished,
        "runs without exactly 4 steps": wrong_steps,
        "duplicate (run, seq)": duplicate_seq,
        "messages": messages,
        "expected messages": n_each * len(journey_ids),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profiles", type=int, default=5_000)
    parser.add_argument("--full", action="store_true", help="1,000,000 profiles")
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    n = 1_000_000 if args.full else args.profiles
    url = _bench_db_url()
    _db_prepare(url)
    _django(url)
    from tracking.models import Profile

    print("Journey engine benchmark")
    print(machine_describe({"profiles": f"{n:,}", "batch size": str(args.batch_size)}))
    print(f"  load average at start {load_average()}")
    _setup(n)
    profile_ids = list(Profile.objects.order_by("pk").values_list("pk", flat=True)[:n])
    figures = {}
    journeys = []
    for workers in (1, 2):
        journey = _journey(f"bench-{workers}w")
        journeys.append(journey.pk)
        enroll_s = _enroll(journey, profile_ids)
        _analyze()
        p1_s, p1_t = _advance(url, T0, workers, args.batch_size)
        _analyze()
        p2_s, p2_t = _advance(url, T0 + timedelta(days=2), workers, args.batch_size)
        p1_net, p2_net = p1_s, p2_s
        figures[workers] = {
            "enroll_s": enroll_s,
            "p1_s": p1_net,
            "p1_t": p1_t,
            "p2_s": p2_net,
            "p2_t": p2_t,
            "end_s": enroll_s + p1_net + p2_net,
        }
    baseline_s = _baseline(n)
    baseline_rate = n / baseline_s
    print(f"baseline (hand-written set-based SQL, 1 step row + 1 run update per transition): "
          f"{baseline_rate:,.0f} transitions/s")  # fmt: skip
    for workers, f in figures.items():
        total_t = f["p1_t"] + f["p2_t"]
        rate = total_t / (f["p1_s"] + f["p2_s"])
        print(f"\n{workers} worker(s), {n:,} runs:")
        print(f"  enroll                      {f['enroll_s']:8.2f} s   {n / f['enroll_s']:>10,.0f} runs/s")
        print(f"  pass 1: enter + send        {f['p1_s']:8.2f} s   {f['p1_t'] / f['p1_s']:>10,.0f} transitions/s"
              f"  (ratio to baseline {f['p1_t'] / f['p1_s'] / baseline_rate:.2f})")  # fmt: skip
        print(f"  pass 2: 3 stages, no send   {f['p2_s']:8.2f} s   {f['p2_t'] / f['p2_s']:>10,.0f} transitions/s"
              f"  (ratio to baseline {f['p2_t'] / f['p2_s'] / baseline_rate:.2f})")  # fmt: skip
        print(
            f"  all transitions             {total_t:,} in {f['p1_s'] + f['p2_s']:.2f} s = {rate:,.0f} transitions/s"
        )
        print(f"  time until every run reached the end (enroll + both passes): {f['end_s']:.2f} s")
    if 1 in figures and 2 in figures:
        r1 = (figures[1]["p1_t"] + figures[1]["p2_t"]) / (figures[1]["p1_s"] + figures[1]["p2_s"])
        r2 = (figures[2]["p1_t"] + figures[2]["p2_t"]) / (figures[2]["p1_s"] + figures[2]["p2_s"])
        print(f"\ntwo workers / one worker: {r2 / r1:.2f}x")
    print(
        f"Mautic reference (mautic#2870): 1,000,000 contacts in 2.5 days = {1_000_000 / (2.5 * 86400):.1f} contacts/s"
    )
    print(f"load average at end {load_average()}")
    checks = _check(journeys, n)
    print("\nchecks:", ", ".join(f"{k}: {v:,}" for k, v in checks.items()))
    ok = (
        checks["runs not finished"] == 0
        and checks["runs without exactly 4 steps"] == 0
        and checks["duplicate (run, seq)"] == 0
        and checks["messages"] == checks["expected messages"]
    )
    print("no run advanced twice, every run reached the end, one message per run" if ok else "CHECK FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
