"""On-site decide benchmark: POST /v1/onsite/decide over HTTP against PostgreSQL, served as in production.

    python -m bench.onsite [--profiles 10000] [--messages 50] [--rate 200] [--seconds 20]
                           [--workers 2] [--threads 4] [--clients 4] [--connections 4]

It creates (and migrates) its own database next to DATABASE_URL's (voyage_bench_onsite) with
`--profiles` profiles (an anonymous id and a user id each, computed tags), five audiences holding a
fifth of them each, `--messages` active messages on one site (targeted by audience, tags, URL rules,
anonymous visitors, with holdouts and two arms) and a history of views for caps; starts gunicorn on
config.wsgi with the production settings (DEBUG off); then, for a trivial endpoint on the same server
(GET /health/live: no database) and for the decide endpoint, in the same run:

- an open-loop load at `--rate` requests/s for `--seconds` (requests leave on a fixed schedule; a
  latency is measured from the moment a request was due, so a slow server cannot hide its queue):
  p50, p90, p99, the rate achieved and errors;
- a closed loop (`--clients` x `--connections` connections, each sending its next request when the
  last is answered) for `--seconds`: the most requests/s the server answers;

and prints decide's figures beside the baseline's, with their ratios. The issue's full size is
`--profiles 100000`; docs/benchmarks/onsite.md records what was run.
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
import threading
import time
from pathlib import Path

import orjson
import psycopg

from bench.db import bench_db_prepare, bench_db_url, django_setup
from bench.machine import machine_describe, process_group_stop

ROOT = Path(__file__).resolve().parent.parent
WRITE_KEY = "wk_bench_onsite_" + "x" * 12
ORIGIN = "https://shop.example.com"
PATHS = ["/", "/products/teapot", "/products/cup", "/sale", "/cart", "/blog/tea"]
TAGS = ["coupon_sensitive", "vip", "lapsed", "fav_teapots"]
AUDIENCES = 5


def _server_env(database_url: str, secret_key: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": secret_key,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DEBUG": "0",
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "REDIS_URL": "",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "TRACKING_PROCESS_ON_COMMIT": "0",
        # Plain http on loopback (production's https redirect is for the real deployment).
        "SECURE_SSL_REDIRECT": "False",
        # The benchmark's load comes from one address: the per-address limit would refuse it.
        "ONSITE_RATE_PER_IP": "1000000",
        "ONSITE_RATE_BURST": "1000000",
    }


# --- data ------------------------------------------------------------------------------------------


def _profiles(database_url: str, n: int, seed: int) -> None:
    """n profiles with an anonymous id and a user id each, tags, audience memberships, past views."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            """
            INSERT INTO tracking_profile (id, created_at, updated_at, first_seen_at, last_seen_at, traits,
                                          trait_updated_at, tags, timezone, locale, country)
            SELECT g, now(), now(), now(), now(),
                   jsonb_build_object('first_name', 'Shopper' || g, 'email', 'shopper' || g || '@example.com'),
                   '{}'::jsonb,
                   (SELECT coalesce(jsonb_agg(t), '[]'::jsonb) FROM unnest(%(tags)s::text[]) AS t
                     WHERE hashtext(t || g) %% 3 = 0),
                   'Europe/Berlin', 'en', 'DE'
            FROM generate_series(1, %(n)s) AS g
            """,
            {"n": n, "tags": TAGS},
        )
        conn.execute("SELECT setval(pg_get_serial_sequence('tracking_profile', 'id'), %s)", [n])
        conn.execute(
            """
            INSERT INTO tracking_identity (kind, namespace, value, created_at, profile_id)
            SELECT 'anonymous_id', '', 'anon-' || g, now(), g FROM generate_series(1, %(n)s) AS g
            UNION ALL
            SELECT 'user_id', '', 'user-' || g, now(), g FROM generate_series(1, %(n)s) AS g
            """,
            {"n": n},
        )
        conn.execute(
            """
            INSERT INTO audiences_audiencemembership (audience_id, profile_id, entered_at)
            SELECT a.id, g, now() FROM audiences_audience a, generate_series(1, %(n)s) AS g
            WHERE hashtext(a.slug || g) %% 5 = 0
            """,
            {"n": n},
        )
        # A history for the caps to read: a view or two of a few messages for a third of the visitors.
        conn.execute(
            """
            INSERT INTO onsite_interaction (message_id, arm, kind, profile_id, anonymous_id, session_id,
                                            page_view_id, at)
            SELECT m.id, 'A', 'view', g, 'anon-' || g, 'old-session', 'old-view',
                   now() - (hashtext(m.id || '-' || g) %% 30 + 31) * interval '1 day'
            FROM generate_series(1, %(n)s) AS g
            JOIN LATERAL (SELECT id FROM onsite_message ORDER BY id OFFSET (g %% 40) LIMIT 2) m ON true
            WHERE g %% 3 = 0
            """,
            {"n": n},
        )
        conn.execute("ANALYZE")


def _messages(count: int) -> None:
    """`count` active messages on the benchmark's site, with the targeting a real shop would use."""
    from audiences.models import Audience, AudienceKind
    from journeys.onsite.models import Kind, Message, Status, Trigger, Variant
    from tracking.models import Source

    source = Source.objects.create(name="bench-shop", write_key=WRITE_KEY, allowed_origins=[ORIGIN])
    audiences = [
        Audience.objects.create(slug=f"bench-{i}", name=f"Bench {i}", kind=AudienceKind.STATIC)
        for i in range(AUDIENCES)
    ]
    kinds = [Kind.MODAL, Kind.SLIDE_IN, Kind.BAR_TOP, Kind.BAR_BOTTOM, Kind.EMBEDDED]
    triggers = [Trigger.PAGE_LOAD, Trigger.DELAY, Trigger.PAGES, Trigger.SCROLL, Trigger.EXIT_INTENT]
    for i in range(count):
        fields: dict = {
            "name": f"Bench message {i}",
            "source": source,
            "status": Status.ACTIVE,
            "kind": kinds[i % len(kinds)],
            "embed_selector": "#offer",
            "trigger": triggers[i % len(triggers)],
            "trigger_seconds": 10,
            "trigger_pages": 3,
            "trigger_scroll_percent": 50,
            "priority": i % 7,
            "once_per_session": i % 2 == 0,
            "max_views": 5 if i % 3 == 0 else None,
            "min_days_between": 2 if i % 4 == 0 else None,
            "holdout_percent": 10 if i % 5 == 0 else 0,
            "goal_event": "Order Completed",
        }
        group = i % 5
        if group == 0:
            fields["audience"] = audiences[i % AUDIENCES]
        elif group == 1:
            fields["required_tags"] = [TAGS[i % len(TAGS)]]
        elif group == 2:
            fields["url_rules"] = [
                {"match": "contains", "value": "/products/"},
                {"match": "regex", "value": r"/cart$", "exclude": True},
            ]
        elif group == 3:
            fields["who"] = "anonymous"
        message = Message.objects.create(**fields)
        for arm in ("A", "B"):
            Variant.objects.create(
                message=message, arm=arm, headline=f"Hello {{{{ profile.first_name | default: 'there' }}}} ({arm})",
                body="Ten percent off teapots this week.", coupon_code="TEA10", cta_label="Shop now",
                cta_url="/sale",
            )  # fmt: skip


def _bodies(n_profiles: int, count: int, seed: int, secret_key: str) -> list[bytes]:
    """Decide requests as browsers send them: 80% known visitors (a third logged in, signed), 20% new."""
    from journeys.onsite.services import user_id_sign
    from tracking.models import Source

    source = Source.objects.get(write_key=WRITE_KEY)
    rng = random.Random(seed)
    bodies = []
    for i in range(count):
        body = {
            "writeKey": WRITE_KEY,
            "sessionId": f"s-{rng.randrange(10**9)}",
            "pageViewId": f"pv-{i}",
            "url": ORIGIN + rng.choice(PATHS),
            "device": rng.choice(["desktop", "mobile"]),
            "newVisitor": rng.random() < 0.3,
            "sessionPages": rng.randint(1, 6),
            "utmSource": rng.choice(["", "", "newsletter"]),
            "locale": "en-US",
        }
        if rng.random() < 0.8:
            p = rng.randint(1, n_profiles)
            body["anonymousId"] = f"anon-{p}"
            if rng.random() < 0.33:
                body["userId"] = f"user-{p}"
                body["userIdSignature"] = user_id_sign(source=source, user_id=f"user-{p}")
        else:
            body["anonymousId"] = f"new-{rng.randrange(10**12)}"
        bodies.append(orjson.dumps(body))
    return bodies


# --- server --------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _gunicorn(env: dict[str, str], port: int, workers: int, threads: int) -> subprocess.Popen:
    cmd = [
        sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
        "--keep-alive", "30", "--backlog", "512", "--timeout", "180", "--log-level", "warning",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, start_new_session=True)
    deadline = time.time() + 90
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/health/live")
            conn.getresponse().read()
            conn.close()
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                raise SystemExit("gunicorn did not start") from None
            time.sleep(0.3)
    return proc


# --- load ----------------------------------------------------------------------------------------


def _request(conn: http.client.HTTPConnection, target: str, body: bytes | None) -> int:
    if body is None:
        conn.request("GET", target)
    else:
        conn.request("POST", target, body=body, headers={"Content-Type": "text/plain", "Origin": ORIGIN})
    response = conn.getresponse()
    data = response.read()
    if response.status != 200 and not _seen_error:
        _seen_error.append(1)
        print(f"  first error: {response.status} {data[:300]!r}", flush=True)
    return response.status


_seen_error: list[int] = []


def _client(port: int, target: str, bodies: list[bytes] | None, mode: str, rate: float, seconds: float,
            connections: int, start_at: float, out: mp.Queue) -> None:  # fmt: skip
    """One process, `connections` threads with a connection each. Open loop: each thread sends on
    its own fixed schedule (rate/connections per second) and measures from when a request was due."""
    latencies: list[float] = []
    errors = [0]
    missed = [0]  # open loop: requests that were due but could not be sent before the phase ended
    finished = [start_at]
    lock = threading.Lock()

    def run(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        interval = connections / rate if mode == "open" else 0.0
        due = start_at + index * (interval / connections if interval else 0)
        end = start_at + seconds
        i = index
        mine: list[float] = []
        bad = late = 0
        while True:
            now = time.perf_counter()
            if mode == "open":
                if due >= end:
                    break
                if now >= end:  # the server fell behind: what is still due is not sent
                    late += int((end - due) / interval) + 1
                    break
                if due > now:
                    time.sleep(due - now)
                began = due
                due += interval
            else:
                if now >= end:
                    break
                began = now
            body = bodies[i % len(bodies)] if bodies else None
            i += connections
            try:
                status = _request(conn, target, body)
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            if status != 200:
                bad += 1
            mine.append(time.perf_counter() - began)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad
            missed[0] += late
            finished[0] = max(finished[0], time.perf_counter())

    threads = [threading.Thread(target=run, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((latencies, errors[0], missed[0], finished[0]))


def _load(port: int, target: str, bodies: list[bytes] | None, *, mode: str, rate: float, seconds: float,
          clients: int, connections: int) -> dict[str, float]:  # fmt: skip
    ctx = mp.get_context("fork")
    out: mp.Queue = ctx.Queue()
    start_at = time.perf_counter() + 1.0  # perf_counter is the same clock in forked processes (Linux)
    shards = [bodies[k::clients] for k in range(clients)] if bodies else [None] * clients
    procs = [
        ctx.Process(
            target=_client,
            args=(port, target, shards[k], mode, rate / clients, seconds, connections, start_at, out),
        )  # fmt: skip
        for k in range(clients)
    ]
    for p in procs:
        p.start()
    latencies: list[float] = []
    errors = missed = 0
    last = start_at
    for _ in procs:
        got, bad, late, finished = out.get(timeout=seconds + 300)
        latencies.extend(got)
        errors += bad
        missed += late
        last = max(last, finished)
    for p in procs:
        p.join()
    latencies.sort()

    def pct(q: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")
        )

    return {
        "requests": len(latencies),
        "rate": len(latencies) / max(last - start_at, 1e-9),  # answered per second of the phase
        "missed": missed,
        "p50": pct(0.50),
        "p90": pct(0.90),
        "p99": pct(0.99),
        "errors": errors,
    }


# --- in process ----------------------------------------------------------------------------------


def _in_process(bodies: list[bytes], n: int) -> dict[str, dict[str, float]]:
    """The same requests through the WSGI application in this process (no HTTP, no other thread):
    CPU ms per request (the median of five rounds) and database round trips per request, for decide
    and the baseline. Less sensitive to a busy machine than latencies, though not immune."""
    import io
    import statistics

    from django.db import connection

    from config.wsgi import application

    def environ(path: str, body: bytes | None) -> dict:
        return {
            "REQUEST_METHOD": "POST" if body else "GET", "PATH_INFO": path, "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1", "wsgi.url_scheme": "http", "REMOTE_ADDR": "127.0.0.1",
            "wsgi.input": io.BytesIO(body or b""), "CONTENT_LENGTH": str(len(body or b"")),
            "CONTENT_TYPE": "text/plain", "HTTP_ORIGIN": ORIGIN, "wsgi.errors": sys.stderr,
        }  # fmt: skip

    def call(path: str, body: bytes | None) -> None:
        status: list[str] = []
        result = application(environ(path, body), lambda s, h: status.append(s))
        b"".join(result)
        result.close()
        if not status[0].startswith("200"):
            raise SystemExit(f"{path}: {status[0]}")

    queries = [0]

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        queries[0] += 1
        return execute(sql, params, many, context)

    out: dict[str, dict[str, float]] = {}
    for name, path, payloads in (("baseline", "/health/live", None), ("decide", "/v1/onsite/decide", bodies)):
        for i in range(200):  # warm: connections, the site's compiled messages, the function's plan
            call(path, payloads[i % len(payloads)] if payloads else None)
        rounds = []
        queries[0] = 0
        with connection.execute_wrapper(count):
            for r in range(5):
                started = time.process_time()
                for i in range(n // 5):
                    call(path, payloads[(r * n // 5 + i) % len(payloads)] if payloads else None)
                rounds.append((time.process_time() - started) / (n // 5) * 1000)
        out[name] = {"cpu": statistics.median(rounds), "queries": queries[0] / (n // 5 * 5)}
    connection.close()
    return out


# --- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profiles", type=int, default=10_000, help="profiles (the issue's size: 100000)")
    parser.add_argument("--messages", type=int, default=50, help="active messages on the site")
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop requests/s")
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each load phase")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--clients", type=int, default=2, help="load-generating processes")
    parser.add_argument("--connections", type=int, default=8, help="connections per client process")
    parser.add_argument("--in-process", type=int, default=2000,
                        help="requests measured in process (CPU and round trips per request)")  # fmt: skip
    parser.add_argument("--database", default="voyage_bench_onsite")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--write", default=str(ROOT / "docs" / "benchmarks" / "onsite.md"),
                        help="where to write the results (empty: do not write)")  # fmt: skip
    args = parser.parse_args(argv)

    secret_key = secrets.token_urlsafe(50)
    database_url = bench_db_url(args.database)
    env = _server_env(database_url, secret_key)
    print(f"Setting up {args.database} with {args.profiles} profiles, {args.messages} messages …", flush=True)
    bench_db_prepare(database_url, {**os.environ, **env}, fresh=True)
    django_setup(env)
    _messages(args.messages)
    _profiles(database_url, args.profiles, args.seed)
    bodies = _bodies(args.profiles, 20_000, args.seed, secret_key)
    from django.db import connections

    connections.close_all()  # no connection of this process may follow it into the forked clients
    with psycopg.connect(database_url) as conn:
        pg_version = conn.execute("SHOW server_version").fetchone()[0]

    port = _free_port()
    server = _gunicorn(env, port, args.workers, args.threads)
    results: dict[str, dict[str, float]] = {}
    load_before = os.getloadavg()[0]
    try:
        # Warm every worker and the message cache.
        _load(
            port,
            "/v1/onsite/decide",
            bodies[:200],
            mode="closed",
            rate=0,
            seconds=3,
            clients=1,
            connections=4,
        )
        _load(port, "/health/live", None, mode="closed", rate=0, seconds=2, clients=1, connections=4)
        plan = [
            ("baseline open", "/health/live", None, "open"),
            ("decide open", "/v1/onsite/decide", bodies, "open"),
            ("baseline closed", "/health/live", None, "closed"),
            ("decide closed", "/v1/onsite/decide", bodies, "closed"),
        ]
        for name, target, payload, mode in plan:
            print(f"  {name} …", flush=True)
            results[name] = _load(
                port, target, payload, mode=mode, rate=args.rate, seconds=args.seconds, clients=args.clients,
                connections=args.connections,
            )  # fmt: skip
    finally:
        process_group_stop(server)
    load = f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after (1-minute load average)"
    print("  in process …", flush=True)
    inproc = _in_process(bodies[-5000:], args.in_process)
    report = _report(args, results, pg_version, load, inproc)
    print()
    print(report)
    if args.write:
        Path(args.write).write_text(_markdown(args, report))
        print(f"\nWritten to {args.write}")
    if any(r["errors"] for r in results.values()):
        raise SystemExit(1)


def _report(
    args: argparse.Namespace, r: dict[str, dict[str, float]], pg_version: str, load: str,
    inproc: dict[str, dict[str, float]],
) -> str:  # fmt: skip
    bo, do, bc, dc = r["baseline open"], r["decide open"], r["baseline closed"], r["decide closed"]
    bi, di = inproc["baseline"], inproc["decide"]
    lines = [
        "Voyage on-site decide benchmark (python -m bench.onsite)",
        machine_describe({"postgres": pg_version, "load": load}),
        f"  setup      gunicorn {args.workers} workers x {args.threads} threads (gthread, keep-alive); "
        f"{args.clients} client processes x {args.connections} connections; {args.seconds:.0f} s per phase",
        f"  data       {args.profiles} profiles (2 identities each), {AUDIENCES} audiences, "
        f"{args.messages} active messages (2 arms each)",
        "",
        f"  open loop at {args.rate:.0f} requests/s   p50 ms    p90 ms    p99 ms   answered/s  errors  not sent",
        f"  GET /health/live (baseline)   {bo['p50']:8.1f}  {bo['p90']:8.1f}  {bo['p99']:8.1f}  {bo['rate']:10.0f}"
        f"  {bo['errors']:6.0f}  {bo['missed']:8.0f}",
        f"  POST /v1/onsite/decide        {do['p50']:8.1f}  {do['p90']:8.1f}  {do['p99']:8.1f}  {do['rate']:10.0f}"
        f"  {do['errors']:6.0f}  {do['missed']:8.0f}",
        f"  decide / baseline             {do['p50'] / bo['p50']:7.1f}x  {do['p90'] / bo['p90']:7.1f}x  "
        f"{do['p99'] / bo['p99']:7.1f}x",
        "",
        "  closed loop (as fast as answered)   requests/s    p50 ms    p99 ms  errors",
        f"  GET /health/live (baseline)         {bc['rate']:10.0f}  {bc['p50']:8.1f}  {bc['p99']:8.1f}  {bc['errors']:6.0f}",
        f"  POST /v1/onsite/decide              {dc['rate']:10.0f}  {dc['p50']:8.1f}  {dc['p99']:8.1f}  {dc['errors']:6.0f}",
        f"  decide / baseline throughput        {dc['rate'] / bc['rate']:9.1%}",
        "",
        f"  in process (WSGI app, one thread, {args.in_process} requests)   CPU ms/request   queries/request",
        f"  GET /health/live (baseline)                          {bi['cpu']:8.2f}        {bi['queries']:8.2f}",
        f"  POST /v1/onsite/decide                               {di['cpu']:8.2f}        {di['queries']:8.2f}",
        f"  decide / baseline                                    {di['cpu'] / bi['cpu']:7.1f}x",
        "",
        f"  target: p99 under 50 ms at {args.rate:.0f} requests/s -> "
        + ("met" if do["p99"] < 50 and not do["missed"] and do["rate"] >= 0.95 * args.rate else "NOT met"),
    ]
    return "\n".join(lines)


def _markdown(args: argparse.Namespace, report: str) -> str:
    command = "python -m bench.onsite " + " ".join(
        f"--{k.replace('_', '-')} {v}"
        for k, v in vars(args).items()
        if k not in ("write", "database", "seed")
    )
    return (
        "# On-site decide benchmark\n\n"
        "What one page view costs Voyage: `POST /v1/onsite/decide` (the snippet's one request per page "
        "view: who is this, which of the site's active messages may they see here, rendered), against "
        "a trivial endpoint on the same gunicorn in the same run (`GET /health/live`, no database). "
        "See `bench/onsite.py` for the data and the load (open loop: latency measured from when each "
        "request was due).\n\n"
        f"Command: `DATABASE_URL=… {command}`\n\n```\n{report}\n```\n\n"
        "How to read it: the open loop sends at the target rate whatever the server does; when the server "
        "cannot keep up, requests queue and the latency (counted from when each was due) grows with the "
        "phase, and what was still due at the end is reported as not sent. The closed loop gives the most "
        "the server answered. Absolute figures depend on the machine and on what else runs on it (the "
        "1-minute load average is printed: above the core count, every figure is inflated, the baseline's "
        "too); the ratios to the baseline measured in the same run are the comparable figures. The in-process "
        "lines call the WSGI application directly, one request at a time, and count CPU time and database "
        "round trips per request: nothing queues there, so they say what a request costs rather than how "
        "long it waited.\n\n"
        "What a decide does (journeys/onsite/services.py, `messages_decide`): the site's active messages are "
        "compiled once per process and kept 5 s (rules, arms, parsed templates, the answer's fixed parts); "
        "the rules that need nothing about the visitor (device, new or returning, UTM, URL) go first, with "
        "no query; then one round trip to PostgreSQL, the `onsite_visitor` function (migration "
        "onsite 0003: the profile of the signed user id or the anonymous id, whether it is known, what the "
        "visitor did with these messages, a pop-up seen within the gap, memberships, computed tags; a "
        "PL/pgSQL function so that its plan is kept per connection); then targeting, caps, one per place, "
        "arm and holdout in Python, and only the chosen messages are rendered. A first-time held-out "
        "visitor adds one insert (their holdout).\n"
    )


if __name__ == "__main__":
    main()
