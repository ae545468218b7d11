"""How raw rows become rollup figures: one SQL "delta" query per source, shared by the fold, the
rebuild, the live tail of a report and the raw-row computation (so they cannot disagree).

Every query yields rows of (dimensions, hour, local_hour, every figure in METRICS); the caller sums
them. Which rows a query reads is a Window:
- fold:    the ids just fetched (B); F (already folded) = ids <= cursor outside the open gaps
- live:    everything after the cursor plus the open gaps (not folded yet); F as for fold
- rebuild: everything folded so far (<= cursor, outside the gaps); F empty
- raw:     every row; F empty

Unique opens/clicks are counted once per message, in the hour of its first recorded open/click
(first by arrival, i.e. by id). A batch that brings an earlier id than the one already counted
moves the count: -1 where it was, +1 where it now belongs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connection

from journeys.reports.models import METRICS

OPEN_KINDS = ("opened", "read", "clicked")  # a click proves the message was opened
SKIP_REASONS = ("unsubscribed", "suppressed", "no_contact_point", "capped", "render_error")
FAILED_NOT_SENT = ("provider_rejected", "retries_exhausted")
CAMPAIGN_KINDS = ("journey", "broadcast")
SOURCES = ("message", "event", "run", "step", "recipient")


def table(label: str) -> str:
    return connection.ops.quote_name(apps.get_model(label)._meta.db_table)


@dataclass
class Window:
    mode: str  # fold | live | rebuild | raw
    cursors: dict[str, int] = field(default_factory=dict)
    gaps: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    batch: dict[str, list[int]] = field(default_factory=dict)  # fold only: ids of B
    pending_profiles: list[int] | None = None  # fold/live: conversions of these profiles only

    def b(self, source: str, col: str, p: dict) -> str:
        """SQL predicate: the row is in B (read now)."""
        if self.mode == "raw":
            return "TRUE"
        if self.mode == "fold":
            key = f"b_{source}"
            p[key] = self.batch.get(source, [])
            return f"{col} = ANY(%({key})s)"
        cur = self.cursors.get(source, 0)
        gap = self._gap_sql(source, col, p)
        if self.mode == "live":
            return f"({col} > {int(cur)} OR {gap})"
        return f"({col} <= {int(cur)} AND NOT {gap})"  # rebuild

    def f(self, source: str, col: str, p: dict) -> str:
        """SQL predicate: the row was folded before (F)."""
        if self.mode in ("raw", "rebuild"):
            return "FALSE"
        cur = self.cursors.get(source, 0)
        return f"({col} <= {int(cur)} AND NOT {self._gap_sql(source, col, p)})"

    def _gap_sql(self, source: str, col: str, p: dict) -> str:
        gaps = self.gaps.get(source, [])
        if not gaps:
            return "FALSE"
        return "(" + " OR ".join(f"{col} BETWEEN {int(lo)} AND {int(hi)}" for lo, hi in gaps) + ")"


@lru_cache(maxsize=1)
def known_zones() -> tuple[str, ...]:
    """Zone names a profile may use (PostgreSQL's list, so SQL and Python agree); others read as
    the workspace zone."""
    with connection.cursor() as cur:
        cur.execute("SELECT name FROM pg_timezone_names")
        return tuple(sorted(r[0] for r in cur.fetchall()))


def _zone(profile_alias: str) -> str:
    # A profile without a (valid) zone is read in the workspace zone.
    return (
        f"(CASE WHEN {profile_alias}.timezone = ANY(%(zones)s) THEN {profile_alias}.timezone ELSE %(ws)s END)"
    )


def hour_sql(col: str) -> str:
    return f"date_trunc('hour', {col}, 'UTC')"


def local_hour_sql(col: str, profile_alias: str = "p") -> str:
    return f"(date_trunc('hour', {col} AT TIME ZONE {_zone(profile_alias)}) AT TIME ZONE 'UTC')"


def _select(dims: str, hour: str, local: str, figures: dict[str, str]) -> str:
    cols = [f"{figures.get(m, '0')}::numeric AS {m}" for m in METRICS]
    return f"SELECT {dims}, {hour} AS hour, {local} AS local_hour, " + ", ".join(cols)


def message_dims(currency: str = "''") -> str:
    """A message's dimensions; `currency` is the SQL of the row's money currency ('' for no money)."""
    return (
        "m.campaign_kind, m.campaign_id, m.stage_key, m.variant, m.channel, "
        f"COALESCE(m.template_id, 0) AS template_id, ({currency})::varchar AS currency"
    )


MESSAGE_DIMS = message_dims()
# A provider's price in the currency it reported it in ('' when it named none: the workspace's).
COST_DIMS = message_dims("upper(COALESCE(m.cost_currency, ''))")
DIM_NAMES = "campaign_kind, campaign_id, stage_key, variant, channel, template_id, currency"


def _campaign_filter(alias: str, p: dict, campaign: tuple[str, int] | None) -> str:
    if campaign is None:
        return f"{alias}.campaign_kind IN ('journey', 'broadcast') AND {alias}.campaign_id IS NOT NULL"
    p["c_kind"], p["c_id"] = campaign
    return f"{alias}.campaign_kind = %(c_kind)s AND {alias}.campaign_id = %(c_id)s"


def messages_sql(w: Window, p: dict, campaign: tuple[str, int] | None) -> str:
    return (
        _select(MESSAGE_DIMS, hour_sql("m.created_at"), local_hour_sql("m.created_at"), {"targeted": "1"})
        + f" FROM {table('channels.Message')} m JOIN {table('tracking.Profile')} p ON p.id = m.profile_id"
        + f" WHERE {w.b('message', 'm.id', p)} AND {_campaign_filter('m', p, campaign)}"
    )


def events_sql(w: Window, p: dict, campaign: tuple[str, int] | None) -> str:
    """Totals from the status timeline, then the unique open/click moves."""
    p["open_kinds"] = list(OPEN_KINDS)
    reason = "e.data->>'reason'"
    figures = {
        **{f"skip_{r}": f"(e.kind = 'skipped' AND {reason} = '{r}')::int" for r in SKIP_REASONS},
        "skip_provider_rejected": f"(e.kind = 'failed' AND {reason} = 'provider_rejected')::int",
        "skip_other": (
            f"((e.kind = 'skipped' AND COALESCE({reason}, '') NOT IN "
            f"({', '.join(repr(r) for r in SKIP_REASONS)})) OR (e.kind = 'failed' AND {reason} = 'retries_exhausted'))::int"
        ),
        "deferred_quiet_hours": f"(e.kind = 'deferred' AND {reason} = 'quiet_hours')::int",
        "sent": "(e.kind = 'sent')::int",
        "delivered": "(e.kind = 'delivered')::int",
        "bounced": "(e.kind = 'bounced')::int",
        "failed": "(e.kind IN ('failed', 'dropped'))::int",
        "opens_total": "(e.kind IN ('opened', 'read'))::int",
        "clicks_total": "(e.kind = 'clicked')::int",
        "unsubscribes": "(e.kind = 'unsubscribed')::int",
        "spam_reports": "(e.kind = 'spam_report')::int",
    }
    events, messages, profiles = (
        table("channels.MessageEvent"),
        table("channels.Message"),
        table("tracking.Profile"),
    )
    base = f"JOIN {messages} m ON m.id = e.message_id JOIN {profiles} p ON p.id = m.profile_id"
    totals = (
        _select(MESSAGE_DIMS, hour_sql("e.at"), local_hour_sql("e.at"), figures)
        + f" FROM {events} e {base} WHERE {w.b('event', 'e.id', p)} AND {_campaign_filter('m', p, campaign)}"
    )
    # Unique opens and clicks in one pass over B: the first id per message in B, against the first
    # already folded (MessageFirst, kept equal to min id over F by the fold).
    state = table("reports.MessageFirst")
    # Scalar look-ups, not a join: B is small (a batch, a live tail) and a join plans a scan of all.
    folded = (
        "NULL::bigint AS f_open, NULL::bigint AS f_click FROM b"
        if w.mode in ("raw", "rebuild")
        else f"(SELECT mf.first_open_id FROM {state} mf WHERE mf.message_id = b.message_id) AS f_open, "
        f"(SELECT mf.first_click_id FROM {state} mf WHERE mf.message_id = b.message_id) AS f_click FROM b"
    )
    firsts = f"""
        WITH b AS (
            SELECT e.message_id, min(e.id) AS open_id, min(e.id) FILTER (WHERE e.kind = 'clicked') AS click_id
              FROM {events} e JOIN {messages} m ON m.id = e.message_id
             WHERE {w.b("event", "e.id", p)} AND e.kind = ANY(%(open_kinds)s) AND {_campaign_filter("m", p, campaign)}
             GROUP BY e.message_id
        )
        SELECT b.open_id, b.click_id, {folded}
    """
    moves = """
        SELECT open_id AS id, 'o' AS metric, 1 AS sign FROM firsts WHERE f_open IS NULL OR open_id < f_open
        UNION ALL SELECT f_open, 'o', -1 FROM firsts WHERE f_open IS NOT NULL AND open_id < f_open
        UNION ALL SELECT click_id, 'c', 1 FROM firsts
         WHERE click_id IS NOT NULL AND (f_click IS NULL OR click_id < f_click)
        UNION ALL SELECT f_click, 'c', -1 FROM firsts
         WHERE click_id IS NOT NULL AND f_click IS NOT NULL AND click_id < f_click
    """
    unique = {
        "opens_unique": "(mv.metric = 'o')::int * mv.sign",
        "clicks_unique": "(mv.metric = 'c')::int * mv.sign",
    }
    uniques = (
        f"SELECT * FROM (WITH firsts AS ({firsts}), moves AS ({moves}) "
        + _select(MESSAGE_DIMS, hour_sql("e.at"), local_hour_sql("e.at"), unique)
        + f" FROM moves mv JOIN {events} e ON e.id = mv.id {base}) u"
    )
    parts = [totals, uniques]
    return " UNION ALL ".join(parts)


def costs_sql(w: Window, p: dict, campaign: tuple[str, int] | None, *, state: str) -> str:
    """Provider-reported prices: the difference between a message's price now and the price already
    folded (prices can arrive with a delivery report after the send). `state` is the folded-price
    table name, or "" when nothing was folded (rebuild, raw)."""
    messages, profiles, events = (
        table("channels.Message"),
        table("tracking.Profile"),
        table("channels.MessageEvent"),
    )
    if w.mode in ("rebuild", "raw"):
        touched = (
            f"SELECT m.id FROM {messages} m WHERE m.cost IS NOT NULL AND {_campaign_filter('m', p, campaign)}"
        )
        if w.mode == "rebuild":
            # Prices of messages whose events are all folded (a price comes with its event).
            touched += f" AND NOT EXISTS (SELECT 1 FROM {events} e WHERE e.message_id = m.id AND NOT {w.b('event', 'e.id', p)})"
    else:
        touched = f"SELECT DISTINCT e.message_id AS id FROM {events} e WHERE {w.b('event', 'e.id', p)}"
    now = (
        f"SELECT m.id AS message_id, abs(m.cost)::numeric AS amount, {COST_DIMS}, "
        f"{hour_sql('m.sent_at')} AS hour, {local_hour_sql('m.sent_at')} AS local_hour "
        f"FROM {messages} m JOIN {profiles} p ON p.id = m.profile_id "
        f"WHERE m.id IN (SELECT id FROM touched) AND m.cost IS NOT NULL AND m.sent_at IS NOT NULL "
        f"AND {_campaign_filter('m', p, campaign)}"
    )
    dims = DIM_NAMES
    if not state:
        return (
            f"SELECT * FROM (WITH touched AS ({touched}), cur AS ({now}) "
            + _select(dims, "hour", "local_hour", {"cost_provider": "amount"})
            + " FROM cur) c"
        )
    # Only the campaign's folded prices: a live read for one campaign must not take back another's.
    folded = f"SELECT s.* FROM {state} s WHERE s.message_id IN (SELECT id FROM touched) AND {_campaign_filter('s', p, campaign)}"
    return (
        f"SELECT * FROM (WITH touched AS ({touched}), cur AS ({now}), old AS ({folded}) "
        + _select(dims, "hour", "local_hour", {"cost_provider": "amount"})
        + " FROM cur WHERE NOT EXISTS (SELECT 1 FROM old WHERE old.message_id = cur.message_id AND old.amount = cur.amount "
        "AND old.hour = cur.hour AND old.local_hour = cur.local_hour) UNION ALL "
        + _select(dims, "hour", "local_hour", {"cost_provider": "-amount"})
        + " FROM old WHERE NOT EXISTS (SELECT 1 FROM cur WHERE old.message_id = cur.message_id AND old.amount = cur.amount "
        "AND old.hour = cur.hour AND old.local_hour = cur.local_hour)) c"
    )


def runs_sql(w: Window, p: dict, campaign: tuple[str, int] | None) -> str:
    if campaign is not None and campaign[0] != "journey":
        return ""
    where = "" if campaign is None else " AND r.journey_id = %(c_id)s"
    if campaign is not None:
        p["c_id"] = campaign[1]
    runs, steps, profiles = table("journeys.Run"), table("journeys.RunStep"), table("tracking.Profile")
    dims = (
        "'journey'::varchar AS campaign_kind, r.journey_id AS campaign_id, {stage} AS stage_key, "
        "''::varchar AS variant, ''::varchar AS channel, 0::bigint AS template_id, ''::varchar AS currency"
    )
    entered = (
        _select(
            dims.format(stage="''::varchar"),
            hour_sql("r.entered_at"),
            local_hour_sql("r.entered_at"),
            {"entered": "(NOT r.holdout)::int", "holdout_entered": "r.holdout::int"},
        )
        + f" FROM {runs} r JOIN {profiles} p ON p.id = r.profile_id WHERE {w.b('run', 'r.id', p)}{where}"
    )
    visits = (
        _select(
            dims.format(stage="s.stage_key"), hour_sql("s.at"), local_hour_sql("s.at"), {"stage_entered": "1"}
        )
        + f" FROM {steps} s JOIN {runs} r ON r.id = s.run_id JOIN {profiles} p ON p.id = r.profile_id"
        + f" WHERE {w.b('step', 's.id', p)}{where}"
    )
    return entered + " UNION ALL " + visits


def recipients_sql(w: Window, p: dict, campaign: tuple[str, int] | None) -> str:
    if campaign is not None and campaign[0] != "broadcast":
        return ""
    where = "" if campaign is None else " AND r.broadcast_id = %(c_id)s"
    if campaign is not None:
        p["c_id"] = campaign[1]
    recipients, broadcasts = table("journeys.BroadcastRecipient"), table("journeys.Broadcast")
    messages, profiles = table("channels.Message"), table("tracking.Profile")
    dims = (
        "'broadcast'::varchar AS campaign_kind, r.broadcast_id AS campaign_id, ''::varchar AS stage_key, "
        "r.variant::varchar AS variant, COALESCE(m.channel, b.channel)::varchar AS channel, "
        "COALESCE(m.template_id, 0) AS template_id, ''::varchar AS currency"
    )
    return (
        _select(dims, hour_sql("r.sent_at"), local_hour_sql("r.sent_at"), {"entered": "1"})
        + f" FROM {recipients} r JOIN {broadcasts} b ON b.id = r.broadcast_id JOIN {profiles} p ON p.id = r.profile_id"
        + f" LEFT JOIN {messages} m ON m.broadcast_recipient_id = r.id"
        + f" WHERE {w.b('recipient', 'r.id', p)}{where}"
    )


REVENUE = """(CASE WHEN jsonb_typeof(ev.properties->'revenue') = 'number' THEN (ev.properties->>'revenue')::numeric
    WHEN ev.properties->>'revenue' ~ '^\\s*-?[0-9]+(\\.[0-9]+)?\\s*$' THEN trim(ev.properties->>'revenue')::numeric
    ELSE 0 END)"""


# The conversion event's `currency` (upper case) when it is three letters, else '' (the workspace
# currency, as tracking.analytics reads an order without one). An unknown code stays as it is: it has
# no rate, so its revenue is flagged as not converted, never counted as zero or as another currency.
CURRENCY = """(CASE WHEN upper(trim(ev.properties->>'currency')) ~ '^[A-Z]{3}$'
    THEN upper(trim(ev.properties->>'currency')) ELSE '' END)"""


def conversions_candidates_sql(w: Window, p: dict, campaign: tuple[str, int] | None) -> str:
    """Conversions (journey runs that reached their goal, broadcast recipients who did the broadcast's
    conversion event within the window after their message was sent) not folded yet."""
    runs, recipients, broadcasts = (
        table("journeys.Run"),
        table("journeys.BroadcastRecipient"),
        table("journeys.Broadcast"),
    )
    messages, events = table("channels.Message"), table("tracking.Event")
    facts = table("reports.ConversionFact")
    p["window_days"] = int(getattr(settings, "REPORTS_BROADCAST_CONVERSION_DAYS", 7))
    run_where, rcpt_where = ["r.converted_at IS NOT NULL"], ["b.conversion_event <> ''"]
    if campaign is not None:
        p["c_id"] = campaign[1]
        (run_where if campaign[0] == "journey" else rcpt_where).append(
            "r.journey_id = %(c_id)s" if campaign[0] == "journey" else "r.broadcast_id = %(c_id)s"
        )
        if campaign[0] == "journey":
            rcpt_where.append("FALSE")
        else:
            run_where.append("FALSE")
    if w.mode in ("fold", "live"):
        p["pending"] = w.pending_profiles or []
        run_where.append("r.profile_id = ANY(%(pending)s)")
        rcpt_where.append("r.profile_id = ANY(%(pending)s)")
    if w.mode != "raw":
        run_where.append(
            f"NOT EXISTS (SELECT 1 FROM {facts} cf WHERE cf.source = 'run' AND cf.source_id = r.id)"
        )
        rcpt_where.append(
            f"NOT EXISTS (SELECT 1 FROM {facts} cf WHERE cf.source = 'recipient' AND cf.source_id = r.id)"
        )
    journey_runs = f"""
        SELECT 'run'::varchar AS source, r.id AS source_id, 'journey'::varchar AS campaign_kind,
               r.journey_id AS campaign_id, r.profile_id, r.holdout, r.converted_at,
               round(COALESCE({REVENUE}, 0), 6) AS revenue, COALESCE({CURRENCY}, '')::varchar AS currency,
               r.id AS run_id, NULL::bigint AS message_id
          FROM {runs} r LEFT JOIN {events} ev ON ev.id = r.conversion_event_id
         WHERE {" AND ".join(run_where)}
    """
    broadcast_rcpts = f"""
        SELECT 'recipient'::varchar, r.id, 'broadcast'::varchar, r.broadcast_id, r.profile_id, FALSE,
               ev.timestamp, round(COALESCE({REVENUE}, 0), 6), COALESCE({CURRENCY}, ''), NULL::bigint, m.id
          FROM {recipients} r JOIN {broadcasts} b ON b.id = r.broadcast_id
          JOIN {messages} m ON m.broadcast_recipient_id = r.id AND m.sent_at IS NOT NULL
          JOIN LATERAL (
              SELECT e.timestamp, e.properties FROM {events} e
               WHERE e.profile_id = r.profile_id AND e.name = b.conversion_event
                 AND e.timestamp > m.sent_at AND e.timestamp <= m.sent_at + make_interval(days => %(window_days)s)
               ORDER BY e.timestamp, e.id LIMIT 1
          ) ev ON TRUE
         WHERE {" AND ".join(rcpt_where)}
    """
    return f"{journey_runs} UNION ALL {broadcast_rcpts}"


def conversions_sql(p: dict, conv: str) -> str:
    """Credit conversions (CTE `conv`) to the messages that touched them: last touch, first touch,
    and linear (each touch 1/n). A conversion with no message sent before it (or a holdout one)
    is credited to the campaign alone."""
    messages, profiles = table("channels.Message"), table("tracking.Profile")
    touches = f"""
        SELECT c.source, c.source_id, m.id AS message_id,
               row_number() OVER (PARTITION BY c.source, c.source_id ORDER BY m.sent_at, m.id) AS first_rank,
               row_number() OVER (PARTITION BY c.source, c.source_id ORDER BY m.sent_at DESC, m.id DESC) AS last_rank,
               count(*) OVER (PARTITION BY c.source, c.source_id) AS n
          FROM {conv} c JOIN {messages} m
            ON m.run_id = c.run_id OR m.id = c.message_id
         WHERE NOT c.holdout AND m.sent_at IS NOT NULL AND m.sent_at <= c.converted_at
    """
    credited = _select(
        message_dims("c.currency"),
        hour_sql("c.converted_at"),
        local_hour_sql("c.converted_at"),
        {
            "conv_last": "(t.last_rank = 1)::int",
            "conv_first": "(t.first_rank = 1)::int",
            # Shares rounded to 6 places, the last touch taking the remainder: they add up exactly.
            "conv_linear": "CASE WHEN t.last_rank = 1 THEN 1 - (t.n - 1) * round(1.0 / t.n, 6) ELSE round(1.0 / t.n, 6) END",
            "revenue_last": "CASE WHEN t.last_rank = 1 THEN c.revenue ELSE 0 END",
            "revenue_first": "CASE WHEN t.first_rank = 1 THEN c.revenue ELSE 0 END",
            "revenue_linear": (
                "CASE WHEN t.last_rank = 1 THEN c.revenue - (t.n - 1) * round(c.revenue / t.n, 6) "
                "ELSE round(c.revenue / t.n, 6) END"
            ),
        },
    ) + (
        f" FROM touches t JOIN {conv} c ON c.source = t.source AND c.source_id = t.source_id"
        f" JOIN {messages} m ON m.id = t.message_id JOIN {profiles} p ON p.id = c.profile_id"
    )
    campaign_dims = (
        "c.campaign_kind, c.campaign_id, ''::varchar AS stage_key, ''::varchar AS variant, "
        "''::varchar AS channel, 0::bigint AS template_id, c.currency::varchar AS currency"
    )
    untouched = _select(
        campaign_dims,
        hour_sql("c.converted_at"),
        local_hour_sql("c.converted_at"),
        {
            "conv_last": "(NOT c.holdout)::int",
            "conv_first": "(NOT c.holdout)::int",
            "conv_linear": "(NOT c.holdout)::int",
            "revenue_last": "CASE WHEN c.holdout THEN 0 ELSE c.revenue END",
            "revenue_first": "CASE WHEN c.holdout THEN 0 ELSE c.revenue END",
            "revenue_linear": "CASE WHEN c.holdout THEN 0 ELSE c.revenue END",
            "holdout_conversions": "c.holdout::int",
            "holdout_revenue": "CASE WHEN c.holdout THEN c.revenue ELSE 0 END",
        },
    ) + (
        f" FROM {conv} c JOIN {profiles} p ON p.id = c.profile_id WHERE NOT EXISTS "
        "(SELECT 1 FROM touches t WHERE t.source = c.source AND t.source_id = c.source_id)"
    )
    return f"touches AS ({touches}), credited AS ({credited} UNION ALL {untouched})"


def zone_params(p: dict[str, Any]) -> dict[str, Any]:
    p["zones"] = list(known_zones())
    p["ws"] = settings.TIME_ZONE
    return p


def people_funnel_sql(p: dict, campaign: tuple[str, int], *, entered_filter: str) -> str:
    """People (treated journey runs / broadcast recipients) at each step, each a subset of the one
    before: entered → reached (a message of theirs was sent) → opened (one was opened or clicked)
    → clicked → converted (after clicking). Also every conversion, clicked or not. Read from raw
    rows of the one campaign (runs, their messages by the indexed run / recipient keys, those
    messages' timelines), so people are counted once however many messages they got.

    `entered_filter` is a predicate on `x.entered_at` and the profile `p` (the report's range)."""
    p["open_kinds"] = list(OPEN_KINDS)
    p["fc_kind"], p["fc_id"] = campaign
    messages, events, profiles = (
        table("channels.Message"),
        table("channels.MessageEvent"),
        table("tracking.Profile"),
    )
    if campaign[0] == "journey":
        entries = (
            f"SELECT r.id, r.profile_id, r.entered_at, 'run'::varchar AS source FROM {table('journeys.Run')} r "
            "WHERE r.journey_id = %(fc_id)s AND NOT r.holdout"
        )
        key = "m.run_id"
    else:
        entries = (
            f"SELECT r.id, r.profile_id, r.sent_at AS entered_at, 'recipient'::varchar AS source "
            f"FROM {table('journeys.BroadcastRecipient')} r WHERE r.broadcast_id = %(fc_id)s"
        )
        key = "m.broadcast_recipient_id"
    conv = conversions_candidates_sql(Window(mode="raw"), p, campaign)
    return f"""
        WITH conv AS ({conv}),
        x AS ({entries}),
        people AS (
            SELECT x.id,
                   bool_or(m.sent_at IS NOT NULL) AS reached,
                   bool_or(m.sent_at IS NOT NULL AND EXISTS (SELECT 1 FROM {events} e
                            WHERE e.message_id = m.id AND e.kind = ANY(%(open_kinds)s))) AS opened,
                   bool_or(m.sent_at IS NOT NULL AND EXISTS (SELECT 1 FROM {events} e
                            WHERE e.message_id = m.id AND e.kind = 'clicked')) AS clicked,
                   EXISTS (SELECT 1 FROM conv c WHERE c.source = x.source AND c.source_id = x.id) AS converted
              FROM x JOIN {profiles} p ON p.id = x.profile_id
              LEFT JOIN {messages} m ON {key} = x.id
             WHERE {entered_filter}
             GROUP BY x.id, x.source
        )
        SELECT count(*) AS entered,
               count(*) FILTER (WHERE reached) AS reached,
               count(*) FILTER (WHERE reached AND opened) AS opened,
               count(*) FILTER (WHERE reached AND opened AND clicked) AS clicked,
               count(*) FILTER (WHERE reached AND opened AND clicked AND converted) AS converted,
               count(*) FILTER (WHERE converted) AS converted_all
          FROM people
    """
