"""The Python path (used on SQLite, i.e. the demo) gives the same figures as PostgreSQL's SQL path:
both run here over the same PostgreSQL rows, and every rollup row and every report is compared."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import override_settings

from channels.models import Message, MessageEvent
from journeys.models import Run
from journeys.reports import fold, metrics
from journeys.reports.models import (
    METRICS,
    ChannelCost,
    ConversionFact,
    HourlyRollup,
    MessageCost,
    MessageFirst,
)
from journeys.reports.testing import dataset_generate
from tracking.models import Profile

# The week of the 2026 change to summer time in New York (8 March): days of 23 hours.
START = datetime(2026, 3, 4, tzinfo=UTC)


def state() -> dict[str, set]:
    rollups = set()
    for r in HourlyRollup.objects.values():
        figures = tuple(r[m] for m in METRICS)
        if any(figures):
            rollups.add(
                (r["campaign_kind"], r["campaign_id"], r["stage_key"], r["variant"], r["channel"],
                 r["template_id"], r["hour"], r["local_hour"], figures)
            )  # fmt: skip
    return {
        "rollups": rollups,
        "costs": set(MessageCost.objects.values_list()),
        "firsts": set(MessageFirst.objects.values_list()),
        "conversions": {
            (c.source, c.source_id, c.campaign_kind, c.campaign_id, c.converted_at, c.revenue, c.holdout)
            for c in ConversionFact.objects.all()
        },
    }


def with_engine(settings, engine: str, fn):
    settings.REPORTS_ENGINE = engine
    try:
        return fn()
    finally:
        settings.REPORTS_ENGINE = ""


@pytest.fixture
def dataset(db):
    ds = dataset_generate(seed=13, profiles=110, start=START)
    # A configured SMS price from the middle of the week, and a profile in a half-hour zone.
    ChannelCost.objects.create(channel="sms", amount=Decimal("0.0125"), valid_from=date(2026, 3, 7))
    Profile.objects.filter(pk=ds.profiles[0].pk).update(timezone="Asia/Kolkata")
    return ds


def test_rebuild_writes_the_same_rows_on_both_paths(dataset, settings):
    with_engine(settings, "sql", fold.rollups_rebuild)
    sql = state()
    with_engine(settings, "python", fold.rollups_rebuild)
    assert state() == sql
    assert len(sql["rollups"]) > 300 and sql["costs"] and sql["firsts"] and len(sql["conversions"]) > 10


def test_python_fold_bit_by_bit_equals_the_sql_rebuild(dataset, settings):
    with_engine(settings, "python", lambda: fold.rollups_fold_until_idle(limit=97))
    # A late price and a late conversion, folded by the Python path too.
    sms = Message.objects.filter(channel="sms", cost__isnull=False).first()
    Message.objects.filter(pk=sms.pk).update(cost=sms.cost + 1)
    MessageEvent.objects.create(message=sms, kind="delivered", at=START + timedelta(days=1))
    run = Run.objects.filter(journey=dataset.journey, converted_at__isnull=True, holdout=False).first()
    Run.objects.filter(pk=run.pk).update(converted_at=START + timedelta(days=3))
    fold.profiles_mark_pending(profile_ids=[run.profile_id])
    with_engine(settings, "python", fold.rollups_fold_until_idle)
    folded = state()
    with_engine(settings, "sql", fold.rollups_rebuild)
    assert state() == folded


GROUPINGS = [
    ((), False),
    ((), True),
    (("stage",), False),
    (("variant",), False),
    (("channel",), False),
    (("template",), False),
    (("campaign",), False),
    (("campaign",), True),
    (("variant", "channel"), True),
]


def reports(settings, engine: str, campaigns, queries) -> list:
    def read():
        out = []
        for campaign in campaigns:
            for q in queries:
                q = metrics.ReportQuery(campaign=campaign, **q)
                out.append(metrics.report_groupings(q, GROUPINGS))
        return out

    return with_engine(settings, engine, read)


@pytest.mark.parametrize("workspace", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_reports_are_the_same_on_both_paths(dataset, settings, workspace):
    """From rollups with a live tail (half folded, fresh rows, pending conversions) and from raw rows,
    in every zone view, bucket and grouping, with and without a date range."""
    fold.rollups_fold(limit=400)
    message = Message.objects.filter(campaign_kind="broadcast", status="delivered").first()
    MessageEvent.objects.create(message=message, kind="opened", at=START + timedelta(days=2, hours=5))
    campaigns = [("journey", dataset.journey.pk), ("broadcast", dataset.broadcast.pk), None]
    queries = [
        dict(tz=tz, bucket=bucket, attribution="linear", source=source)
        for tz in ("utc", "workspace", "local")
        for bucket in ("hour", "day")
        for source in ("rollups", "raw")
    ] + [
        dict(tz=tz, bucket="day", start=date(2026, 3, 6), end=date(2026, 3, 8))
        for tz in ("utc", "workspace", "local")
    ]
    with override_settings(TIME_ZONE=workspace):
        sql = reports(settings, "sql", campaigns, queries)
        python = reports(settings, "python", campaigns, queries)
    assert sql[0][0][0]["sent"] > 50 and len(sql[0][1]) > 20
    for (campaign, q), a, b in zip([(c, q) for c in campaigns for q in queries], sql, python, strict=True):
        for grouping, rows_a, rows_b in zip(GROUPINGS, a, b, strict=True):
            assert rows_b == rows_a, (campaign, q, grouping)
