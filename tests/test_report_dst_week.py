"""A week with a change to summer time and a half-hour zone: rollups folded bit by bit (with a late
price and a late conversion) equal a rebuild, and reports read from half-folded rollups plus the live
tail equal reports recomputed from raw rows, in every zone view, bucket and grouping."""

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
                 r["template_id"], r["currency"], r["hour"], r["local_hour"], figures)
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


@pytest.fixture
def dataset(db):
    ds = dataset_generate(seed=13, profiles=110, start=START)
    # A configured SMS price from the middle of the week, and a profile in a half-hour zone.
    ChannelCost.objects.create(channel="sms", amount=Decimal("0.0125"), valid_from=date(2026, 3, 7))
    Profile.objects.filter(pk=ds.profiles[0].pk).update(timezone="Asia/Kolkata")
    return ds


def test_fold_bit_by_bit_equals_the_rebuild(dataset):
    fold.rollups_fold_until_idle(limit=97)
    # A late price and a late conversion, folded afterwards.
    sms = Message.objects.filter(channel="sms", cost__isnull=False).first()
    Message.objects.filter(pk=sms.pk).update(cost=sms.cost + 1)
    MessageEvent.objects.create(message=sms, kind="delivered", at=START + timedelta(days=1))
    run = Run.objects.filter(journey=dataset.journey, converted_at__isnull=True, holdout=False).first()
    Run.objects.filter(pk=run.pk).update(converted_at=START + timedelta(days=3))
    fold.profiles_mark_pending(profile_ids=[run.profile_id])
    fold.rollups_fold_until_idle()
    folded = state()
    assert len(folded["rollups"]) > 300 and folded["costs"] and folded["firsts"]
    assert len(folded["conversions"]) > 10
    fold.rollups_rebuild()
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


def reports(campaigns, queries) -> list:
    out = []
    for campaign in campaigns:
        for q in queries:
            q = metrics.ReportQuery(campaign=campaign, **q)
            out.append(metrics.report_groupings(q, GROUPINGS))
    return out


@pytest.mark.parametrize("workspace", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_reports_from_rollups_and_live_tail_equal_raw_recompute(dataset, workspace):
    """From rollups with a live tail (half folded, fresh rows, pending conversions) and from raw rows,
    in every zone view, bucket and grouping, with and without a date range."""
    campaigns = [("journey", dataset.journey.pk), ("broadcast", dataset.broadcast.pk), None]
    queries = [
        dict(tz=tz, bucket=bucket, attribution="linear")
        for tz in ("utc", "workspace", "local")
        for bucket in ("hour", "day")
    ] + [
        dict(tz=tz, bucket="day", start=date(2026, 3, 6), end=date(2026, 3, 8))
        for tz in ("utc", "workspace", "local")
    ]
    # Folded in the same workspace zone (recipients without a zone of their own have its local time).
    with override_settings(TIME_ZONE=workspace):
        fold.rollups_fold(limit=400)
        message = Message.objects.filter(campaign_kind="broadcast", status="delivered").first()
        MessageEvent.objects.create(message=message, kind="opened", at=START + timedelta(days=2, hours=5))
        live = reports(campaigns, queries)
        raw = reports(campaigns, [dict(q, source="raw") for q in queries])
    assert live[0][0][0]["sent"] > 50 and len(live[0][1]) > 20
    for (campaign, q), a, b in zip([(c, q) for c in campaigns for q in queries], raw, live, strict=True):
        for grouping, rows_a, rows_b in zip(GROUPINGS, a, b, strict=True):
            assert rows_b == rows_a, (campaign, q, grouping)
