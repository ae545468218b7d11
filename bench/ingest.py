"""Ingestion benchmark: /v1/batch over HTTP against PostgreSQL, served as in production.

    python -m bench.ingest [--events 100000] [--workers 3] [--concurrency 4] [--processors 1]
                           [--touches on|off|both]

It creates (and migrates) its own database next to DATABASE_URL's (voyage_bench_ingest), starts gunicorn
on config.wsgi with the production settings (DEBUG off, a generated SECRET_KEY), loads /v1/batch with
batches of 100 realistic messages from several client processes, runs the ID-Mapping processor
(`events_process_pending`, what the Celery task runs) in its own processes at the same time, and
prints:

- events/s accepted (answered 200),
- events/s until stored and queryable (every event resolved to a profile: processed_at set),
- the rate of a plain psycopg COPY of the same rows into the same table, measured in the same run,
  and both ratios against it.

--touches: whether the processors read acquisition touches from the events they resolve (on, the
default, as in production; off: ANALYTICS_TOUCHES_ON_INGEST=0, left to the hourly sweep). `both` runs
the whole benchmark twice in the same run (off, then on; each on a fresh database) and prints the
stored & queryable rate of each and on / off: touch extraction's cost on ingestion.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import random
import secrets
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psycopg

from bench.db import bench_db_prepare, bench_db_url
from bench.machine import machine_describe, process_group_stop

ROOT = Path(__file__).resolve().parent.parent
BATCH = 100
WRITE_KEY = "wk_bench_" + "x" * 16
PRODUCTS = [(f"SKU-{i:04d}", f"Product {i}", round(5 + (i * 7.3) % 200, 2)) for i in range(300)]
MARKETS = [
    ("en-US", "America/New_York", "US", "USD"),
    ("de-DE", "Europe/Berlin", "DE", "EUR"),
    ("en-GB", "Europe/London", "GB", "GBP"),
    ("ja-JP", "Asia/Tokyo", "JP", "JPY"),
    ("pt-BR", "America/Sao_Paulo", "BR", "BRL"),
    ("ar-SA", "Asia/Riyadh", "SA", "SAR"),
]
TRACK_NAMES = ["Product Viewed", "Product Added", "Products Searched", "Checkout Started", "Order Completed"]


# --- realistic messages --------------------------------------------------------------------------


def _context(rng: random.Random, market: tuple[str, str, str, str]) -> dict:
    locale, tz, _, _ = market
    context = {
        "library": {"name": "analytics.js", "version": "4.1.0"},
        "ip": f"203.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Safari/605.1.15",
        "locale": locale,
        "timezone": tz,
        "page": {"path": "/products", "url": "https://shop.example.com/products", "referrer": ""},
    }
    if rng.random() < 0.3:
        context["campaign"] = {"source": "newsletter", "medium": "email", "name": "spring-sale"}
    return context


def _message(rng: random.Random, person: dict, at: datetime) -> dict:
    roll = rng.random()
    base = {
        "messageId": str(uuid.UUID(int=rng.getrandbits(128))),
        "anonymousId": person["anon"],
        "timestamp": at.isoformat(),
        "context": _context(rng, person["market"]),
    }
    if person.get("user_id"):
        base["userId"] = person["user_id"]
    if roll < 0.12:
        traits = {"locale": person["market"][0]}
        if rng.random() < 0.5:
            person["user_id"] = person.get("user_id") or f"user-{person['anon'][:12]}"
            base["userId"] = person["user_id"]
            traits["email"] = f"{person['anon'][:12]}@example.com"
            traits["name"] = f"Shopper {person['anon'][:6]}"
        return {**base, "type": "identify", "traits": traits}
    if roll < 0.40:
        return {**base, "type": "page", "name": "Product Listing", "properties": {"path": "/products"}}
    name = rng.choice(TRACK_NAMES)
    sku, title, price = rng.choice(PRODUCTS)
    properties: dict = {"product_id": sku, "sku": sku, "name": title, "price": price, "quantity": 1}
    if name == "Order Completed":
        properties = {
            "order_id": f"o-{rng.getrandbits(40)}",
            "revenue": price,
            "currency": person["market"][3],
            "products": [{"product_id": sku, "name": title, "price": price, "quantity": 1}],
        }
    elif name == "Products Searched":
        properties = {"query": title.split()[0].lower()}
    return {**base, "type": "track", "event": name, "properties": properties}


def batches_for_client(client: int, events: int, seed: int) -> list[bytes]:
    """Request bodies of 100 messages; about a third of the messages come from new anonymous people."""
    rng = random.Random(seed * 1000 + client)
    people: list[dict] = []
    now = datetime.now(UTC)
    bodies = []
    # Event times advance through the last hour in sending order, as from live sites and apps
    # (a person's events arrive in the order they happened).
    step = timedelta(seconds=3600 / max(events, 1))
    sequence = 0
    for _ in range(0, events, BATCH):
        messages = []
        for _ in range(BATCH):
            sequence += 1
            if not people or rng.random() < 1 / 3:
                people.append(
                    {"anon": str(uuid.UUID(int=rng.getrandbits(128))), "market": rng.choice(MARKETS)}
                )
                person = people[-1]
            else:
                person = rng.choice(people)
            messages.append(_message(rng, person, now - timedelta(hours=1) + sequence * step))
        bodies.append(orjson.dumps({"batch": messages, "sentAt": now.isoformat()}))
    return bodies


# --- the pieces that run in their own processes --------------------------------------------------


def _client(
    client: int, events: int, seed: int, port: int, start: mp.Event, deadline: float, out: mp.Queue
) -> None:
    bodies = batches_for_client(client, events, seed)
    out.put(("ready", client))
    start.wait()
    accepted = failed = 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json", "Authorization": _basic(WRITE_KEY)}
    for body in bodies:
        if time.time() > deadline:
            break
        try:
            conn.request("POST", "/v1/batch", body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            ok = response.status == 200
            if not ok and failed == 0:  # the first refusal says why (the rest are counted)
                print(f"client {client}: HTTP {response.status} {answer[:300]!r}", flush=True)
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
        except (OSError, http.client.HTTPException):
            ok = False
            conn.close()
        if ok:
            accepted += BATCH
        else:
            failed += BATCH
    conn.close()
    out.put(("done", client, accepted, failed, time.time()))


def _processor(database_url: str, stop: mp.Event, touches: bool = True) -> None:
    os.environ.update(_server_env(database_url))
    os.environ["ANALYTICS_TOUCHES_ON_INGEST"] = "1" if touches else "0"
    import django

    django.setup()
    from tracking.processing import events_process_pending

    while not stop.is_set():
        if events_process_pending().events == 0:
            time.sleep(0.05)


def _basic(key: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


# --- setup ---------------------------------------------------------------------------------------


def _server_env(database_url: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DEBUG": "0",
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        # Processing runs in the processor processes here (what the Celery task runs), so no
        # wake-ups; tasks the upper floors queue in reaction (audiences re-evaluation …) go to an
        # in-memory broker and are not run: they are not ingestion and have benchmarks of their own.
        "TRACKING_PROCESS_ON_COMMIT": "0",
        "REDIS_URL": "",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        # Plain http on loopback (production's https redirect, added for deployments, answered
        # every batch with a 301 here).
        "SECURE_SSL_REDIRECT": "False",
    }


def _bench_database(name: str) -> str:
    """A fresh database (dropped and migrated) with the benchmark's two sources."""
    url = bench_db_url(name)
    bench_db_prepare(url, {**os.environ, **_server_env(url)}, fresh=True)
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO tracking_source (name, write_key, enabled, created_at, allowed_origins) "
            "VALUES (%s, %s, true, now(), '[]'), (%s, %s, true, now(), '[]')",
            ["bench", WRITE_KEY, "bench-copy", "wk_bench_copy_baseline"],
        )
    return url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _gunicorn(database_url: str, port: int, workers: int) -> subprocess.Popen:
    cmd = [
        sys.executable, "-m", "gunicorn", "config.wsgi",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--worker-class", "gthread", "--threads", "1",  # gthread keeps client connections alive
        "--keep-alive", "30",
        "--backlog", "256",
        "--timeout", "180",  # the first request of a worker imports every app
        "--log-level", "warning",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env={**os.environ, **_server_env(database_url)}, start_new_session=True
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/v1/batch")
            conn.getresponse().read()
            conn.close()
            break
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("gunicorn exited") from None
            time.sleep(0.3)
    # Warm every worker (the first request of each imports the URL conf and views).
    warm = orjson.dumps({"batch": [{"type": "track", "anonymousId": "warm", "event": "Warm Up"}]})
    for _ in range(workers * 3):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("POST", "/v1/batch", body=warm, headers={"Authorization": _basic(WRITE_KEY)})
        conn.getresponse().read()
        conn.close()
    return proc


def _pending(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT count(*) FROM tracking_event WHERE processed_at IS NULL").fetchone()[0]


# --- the COPY baseline ---------------------------------------------------------------------------


def _rows_for_copy(bodies: list[bytes], source_id: int, received_at: datetime) -> list[tuple]:
    """The same messages as table rows, prepared before the clock starts: COPY at its fastest."""
    rows = []
    for body in bodies:
        for m in orjson.loads(body)["batch"]:
            ts = datetime.fromisoformat(m["timestamp"])
            rows.append(
                (
                    source_id,
                    m["messageId"],
                    m["type"],
                    m.get("event") or m.get("name") or "",
                    m.get("userId", ""),
                    m.get("anonymousId", ""),
                    "",
                    "",
                    orjson.dumps(m.get("properties", {})).decode(),
                    orjson.dumps(m.get("traits", {})).decode(),
                    orjson.dumps(m["context"]).decode(),
                    ts,
                    received_at,
                    received_at,
                    ts,
                )
            )
    return rows


def copy_rate(database_url: str, rows: list[tuple]) -> float:
    columns = (
        "source_id, message_id, type, name, user_id, anonymous_id, group_id, previous_id, properties, "
        "traits, context, original_timestamp, sent_at, received_at, timestamp"
    )
    with psycopg.connect(database_url) as conn:
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY tracking_event ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        return len(rows) / (time.perf_counter() - started)


# --- the run -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="events to send (default 100000)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes (default 3)")
    parser.add_argument("--concurrency", type=int, default=4, help="client processes (default 4)")
    parser.add_argument(
        "--processors", type=int, default=1, help="ID-Mapping processor processes (default 1)"
    )
    parser.add_argument("--max-seconds", type=float, default=300, help="stop sending after this long")
    parser.add_argument("--database", default="voyage_bench_ingest", help="database to (re)create and use")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--touches", choices=("on", "off", "both"), default="on", help="touch extraction in the processors"
    )
    args = parser.parse_args(argv)
    if args.touches != "both":
        _run(args, touches=args.touches == "on")
        return
    rates = {touches: _run(args, touches=touches) for touches in (False, True)}
    print()
    print(f"  touch extraction off  {rates[False]:>10,.0f} events/s stored & queryable")
    print(f"  touch extraction on   {rates[True]:>10,.0f} events/s stored & queryable")
    print(f"  on / off              {rates[True] / rates[False]:10.2f}")


def _run(args: argparse.Namespace, *, touches: bool) -> float:
    """One whole benchmark on a fresh database; returns the stored & queryable rate."""

    base_url = os.environ.get("DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/voyage")
    if not base_url.startswith("postgres"):
        raise SystemExit("DATABASE_URL must point at PostgreSQL (the database is created next to it)")
    print(f"Setting up {args.database} …", flush=True)
    database_url = _bench_database(args.database)
    with psycopg.connect(database_url) as conn:
        pg_version = conn.execute("SHOW server_version").fetchone()[0]
        copy_source_id = conn.execute("SELECT id FROM tracking_source WHERE name = 'bench-copy'").fetchone()[
            0
        ]
    load_before = os.getloadavg()[0]
    port = _free_port()
    server = _gunicorn(database_url, port, args.workers)
    ctx = mp.get_context("fork")
    start, stop = ctx.Event(), ctx.Event()
    out: mp.Queue = ctx.Queue()
    per_client = max(BATCH, (args.events // args.concurrency) // BATCH * BATCH)
    processors: list = []
    try:
        processors = [
            ctx.Process(target=_processor, args=(database_url, stop, touches)) for _ in range(args.processors)
        ]
        for proc in processors:
            proc.start()
        while _pending(database_url):  # the warm-up events: the processors are up once they are done
            time.sleep(0.1)
        deadline = time.time() + args.max_seconds + 120
        clients = [
            ctx.Process(target=_client, args=(i, per_client, args.seed, port, start, deadline, out))
            for i in range(args.concurrency)
        ]
        for proc in clients:
            proc.start()
        for _ in clients:
            out.get(timeout=300)
        print(f"Sending {per_client * args.concurrency} events …", flush=True)
        started = time.time()
        start.set()
        accepted = failed = 0
        last_answer = started
        for _ in clients:
            _, _, ok, bad, finished = out.get(timeout=args.max_seconds + 300)
            accepted, failed, last_answer = accepted + ok, failed + bad, max(last_answer, finished)
        for proc in clients:
            proc.join()
        while _pending(database_url):
            time.sleep(0.05)
        processed_at = time.time()
    finally:
        stop.set()
        for proc in processors:
            proc.join(timeout=30)
        process_group_stop(server)

    accept_rate = accepted / (last_answer - started)
    stored_rate = accepted / (processed_at - started)
    # Baseline: the same rows, COPYed into the same (now populated) table by a second source.
    bodies = [b for i in range(args.concurrency) for b in batches_for_client(i, per_client, args.seed)]
    rows = _rows_for_copy(bodies, copy_source_id, datetime.now(UTC))
    baseline = copy_rate(database_url, rows)
    with psycopg.connect(database_url) as conn:
        profiles = conn.execute("SELECT count(*) FROM tracking_profile").fetchone()[0]

    print()
    print("Voyage ingestion benchmark (python -m bench.ingest)")
    load = f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after (1-minute load average)"
    print(machine_describe({"postgres": pg_version, "load": load}))
    print(
        f"  setup      gunicorn {args.workers} workers (gthread, keep-alive), {args.concurrency} client "
        f"processes, {args.processors} processor process(es), batches of {BATCH}, "
        f"touch extraction {'on' if touches else 'off'}"
    )
    print(f"  events     {accepted} accepted, {failed} failed, {profiles} profiles resolved")
    print(f"  accepted             {accept_rate:>10,.0f} events/s   {accept_rate / baseline:6.1%} of COPY")
    print(f"  stored & queryable   {stored_rate:>10,.0f} events/s   {stored_rate / baseline:6.1%} of COPY")
    print(f"  COPY baseline        {baseline:>10,.0f} events/s")
    if failed:
        raise SystemExit(1)
    return stored_rate


if __name__ == "__main__":
    main()
