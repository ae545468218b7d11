"""Rollups folded bit by bit equal rollups rebuilt from raw rows, and rows hidden in a running
transaction when the fold passes are folded once they commit."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction

from channels.models import Message, MessageEvent
from journeys.reports import fold, metrics
from journeys.reports.models import METRICS, HourlyRollup, MessageFirst
from journeys.reports.testing import dataset_generate

START = datetime(2026, 4, 6, tzinfo=UTC)


def rollup_snapshot() -> dict:
    out = {}
    for r in HourlyRollup.objects.all().values():
        key = (r["campaign_kind"], r["campaign_id"], r["stage_key"], r["variant"], r["channel"],
               r["template_id"], r["currency"], r["hour"], r["local_hour"])  # fmt: skip
        figures = tuple(r[m] for m in METRICS)
        if any(figures):
            out[key] = figures
    return out


@pytest.mark.django_db
def test_incremental_fold_equals_rebuild_and_the_command():
    ds = dataset_generate(seed=5, profiles=90, start=START)
    stats = fold.rollups_fold_until_idle(limit=41)
    assert stats.rows > 500 and stats.conversions > 5
    folded = rollup_snapshot()
    firsts = set(MessageFirst.objects.values_list("message_id", "first_open_id", "first_click_id"))
    assert folded and firsts
    phases = []
    rows = fold.rollups_rebuild(progress=lambda phase, done, total: phases.append((phase, done, total)))
    assert rollup_snapshot() == folded and rows == HourlyRollup.objects.count()
    assert phases == [(phase, i, 8) for i, phase in enumerate(fold.REBUILD_PHASES, start=1)]
    assert set(MessageFirst.objects.values_list("message_id", "first_open_id", "first_click_id")) == firsts
    call_command(
        "reports_rebuild",
        "--campaign",
        f"journey:{ds.journey.pk}",
        "--campaign",
        f"broadcast:{ds.broadcast.pk}",
    )
    assert rollup_snapshot() == folded
    # Folding again changes nothing: every row is folded exactly once.
    fold.rollups_fold_until_idle()
    assert rollup_snapshot() == folded


@pytest.mark.django_db
def test_late_price_report_moves_the_cost():
    dataset_generate(seed=6, profiles=40, start=START)
    fold.rollups_fold_until_idle()
    sms = Message.objects.filter(channel="sms", cost__isnull=False).first()
    old = sms.cost
    # Twilio's status callback brings the final price after the send.
    Message.objects.filter(pk=sms.pk).update(cost=old + 1)
    MessageEvent.objects.create(
        message=sms, kind="delivered", at=START, data={"price": "-1.2", "price_unit": "USD"}
    )
    q = metrics.ReportQuery(campaign=("journey", sms.campaign_id))
    assert (
        metrics.report_rows(q)[0]["cost_provider"]
        == metrics.report_rows(metrics.ReportQuery(campaign=q.campaign, source="raw"))[0]["cost_provider"]
    )
    fold.rollups_fold_until_idle()
    folded = rollup_snapshot()
    fold.rollups_rebuild()
    assert rollup_snapshot() == folded


@pytest.mark.django_db(transaction=True)
def test_a_row_committed_after_the_fold_passed_its_id_is_folded_once():
    dataset_generate(seed=8, profiles=30, start=START)
    fold.rollups_fold_until_idle()
    message = Message.objects.filter(campaign_kind="broadcast", status="delivered").first()
    inserted, release = threading.Event(), threading.Event()

    def slow_writer():
        try:
            with transaction.atomic():
                MessageEvent.objects.create(message=message, kind="opened", at=START)
                inserted.set()
                release.wait(30)
        finally:
            connections.close_all()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    assert inserted.wait(30)
    # A later id commits first; the fold passes the hidden one and keeps it as a gap.
    MessageEvent.objects.create(message=message, kind="clicked", at=START)
    stats = fold.rollups_fold()
    assert stats.gaps_open >= 1
    release.set()
    writer.join(30)
    fold.rollups_fold()
    fold.rollups_fold()
    folded = rollup_snapshot()
    fold.rollups_rebuild()
    assert rollup_snapshot() == folded
    raw = metrics.report_rows(metrics.ReportQuery(campaign=("broadcast", message.campaign_id), source="raw"))
    assert metrics.report_rows(metrics.ReportQuery(campaign=("broadcast", message.campaign_id))) == raw
    assert connection.vendor == "postgresql"


@pytest.mark.django_db
def test_the_fold_is_installed_as_a_beat_task_and_folds_when_run():
    from django_celery_beat.models import PeriodicTask

    from journeys.reports.beat import TASK_NAME, periodic_task_install
    from journeys.reports.tasks import rollups_fold_task

    periodic_task_install()
    assert PeriodicTask.objects.get(name=TASK_NAME).task == "reports.rollups_fold"
    dataset_generate(seed=9, profiles=15, start=START)
    assert rollups_fold_task.delay().get() > 0
    assert HourlyRollup.objects.exists()


@pytest.mark.django_db
def test_processed_events_put_their_profiles_under_watch_for_conversions():
    from journeys.reports.models import PendingProfile
    from tracking import signals
    from tracking.models import Profile

    profile = Profile.objects.create(timezone="Asia/Tokyo")
    signals.events_processed.send(sender=None, event_ids=[], profile_ids=[profile.pk])
    assert PendingProfile.objects.filter(profile_id=profile.pk).exists()


@pytest.mark.django_db
def test_a_live_report_of_one_campaign_ignores_fresh_results_of_anothers_priced_messages():
    ds = dataset_generate(seed=6, profiles=40, start=START)
    fold.rollups_fold_until_idle()
    sms = Message.objects.filter(campaign_kind="journey", channel="sms", cost__isnull=False).first()
    MessageEvent.objects.create(message=sms, kind="delivered", at=START)  # not folded yet
    for campaign in (("broadcast", ds.broadcast.pk), ("journey", ds.journey.pk)):
        live = metrics.report_rows(metrics.ReportQuery(campaign=campaign))[0]
        raw = metrics.report_rows(metrics.ReportQuery(campaign=campaign, source="raw"))[0]
        assert live["cost_provider"] == raw["cost_provider"], campaign
