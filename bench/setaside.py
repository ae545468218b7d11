"""What setting poison rows aside costs event processing.

    python -m bench.setaside [--events 20000] [--poison-every 2000] [--full]

It uses its own database next to DATABASE_URL's (voyage_bench_setaside, recreated and migrated on
start), no broker. Each round inserts N pending track events for N/4 users (one INSERT … SELECT,
not timed) and times `events_process_pending` (batches of TRACKING_PROCESS_BATCH_SIZE, 500):

- clean: every event is good — the baseline;
- poisoned: one event in every `--poison-every` is stored with a timestamp Python cannot read
  ('0001-12-31 BC'), so its batch is bisected and the event set aside.

It prints events/s for both and the ratio, checks every good event was processed and every poison
one set aside. `--full`: 200,000 events.
"""

from __future__ import annotations

import argparse
import time

from bench.db import bench_db_prepare, bench_db_url, bench_env, django_setup
from bench.machine import machine_describe


def _insert(n: int, *, poison_every: int, round_name: str) -> None:
    from django.db import connection

    from tracking.models import Source

    source, _ = Source.objects.get_or_create(name="bench", defaults={"write_key": "wk_bench_setaside"})
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO tracking_event (source_id, message_id, type, name, user_id, anonymous_id, group_id, "
            "previous_id, properties, traits, context, received_at, timestamp) "
            "SELECT %s, %s || i, 'track', 'Viewed', 'u-' || %s || '-' || (i %% %s), '', '', '', '{}', '{}', '{}', "
            "now(), CASE WHEN %s > 0 AND i %% %s = 0 THEN '0001-12-31 10:00:00 BC'::timestamptz "
            "ELSE now() - (i || ' seconds')::interval END FROM generate_series(1, %s) AS i",
            [source.pk, round_name, round_name, max(1, n // 4), poison_every, max(1, poison_every), n],
        )


def _round(n: int, *, poison_every: int, name: str) -> tuple[float, int, int]:
    from core.models import SetAside
    from tracking.models import Event
    from tracking.processing import events_process_pending

    _insert(n, poison_every=poison_every, round_name=name)
    started = time.perf_counter()
    result = events_process_pending()
    seconds = time.perf_counter() - started
    left = Event.objects.filter(processed_at__isnull=True, set_aside_at__isnull=True).count()
    assert left == 0, f"{left} events left pending"
    aside = SetAside.objects.filter(queue="events", state="set_aside").count()
    return seconds, result.events, aside


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--poison-every", type=int, default=2_000)
    parser.add_argument("--full", action="store_true", help="200,000 events")
    args = parser.parse_args(argv)
    n = 200_000 if args.full else args.events
    url = bench_db_url("voyage_bench_setaside")
    env = bench_env(url)
    bench_db_prepare(url, env, fresh=True)
    django_setup(env)
    from django.db import connection

    print("Set-aside benchmark: event processing with and without poison rows")
    print(machine_describe({"postgres": str(connection.cursor().connection.info.server_version)}))
    clean_s, clean_n, _ = _round(n, poison_every=0, name="clean")
    poison_s, poison_n, aside = _round(n, poison_every=args.poison_every, name="poison")
    expected_aside = n // args.poison_every
    assert poison_n == n - expected_aside and aside == expected_aside, (poison_n, aside)
    print(f"  events per round          {n:,} (batches of 500)")
    print(f"  clean                     {clean_n / clean_s:9,.0f} events/s ({clean_s:.2f} s)")
    print(
        f"  1 poison per {args.poison_every:<6,}       {poison_n / poison_s:9,.0f} events/s ({poison_s:.2f} s),"
        f" {aside} set aside"
    )
    print(f"  ratio poisoned / clean    {(poison_n / poison_s) / (clean_n / clean_s):9.2f}")


if __name__ == "__main__":
    main()
