"""Report figures equal an independent computation from the raw rows of a generated dataset."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from channels.models import Message, MessageEvent
from journeys.models import BroadcastRecipient, Run, RunStep
from journeys.reports import fold, metrics
from journeys.reports.testing import dataset_generate
from tracking.models import Event

START = datetime(2026, 3, 2, tzinfo=UTC)


def money(value) -> Decimal:
    """The revenue property as a number (numbers and numeric strings count; anything else is 0)."""
    if isinstance(value, bool) or value is None:
        return Decimal(0)
    try:
        return Decimal(str(value).strip())
    except Exception:
        return Decimal(0)


def expected(
    kind: str, cid: int, *, key=lambda m: (), step_key=None, start=None, end=None, attribution="last"
) -> dict:
    """Straight from raw rows, one figure at a time, grouped by key(message) (conversions by the
    credited message; entries and untouched conversions under key(None))."""
    out: dict = defaultdict(Counter)

    def inside(at):
        return (start is None or at >= start) and (end is None or at < end)

    messages = {m.pk: m for m in Message.objects.filter(campaign_kind=kind, campaign_id=cid)}
    for m in messages.values():
        if inside(m.created_at):
            out[key(m)]["targeted"] += 1
    events = list(MessageEvent.objects.filter(message_id__in=messages).order_by("id"))
    first_open, first_click = {}, {}
    for e in events:
        if e.kind in ("opened", "read", "clicked"):
            first_open.setdefault(e.message_id, e)
        if e.kind == "clicked":
            first_click.setdefault(e.message_id, e)
        if not inside(e.at):
            continue
        g = out[key(messages[e.message_id])]
        reason = e.data.get("reason")
        if e.kind == "skipped":
            known = ("unsubscribed", "suppressed", "no_contact_point", "capped", "render_error")
            g[f"skip_{reason}" if reason in known else "skip_other"] += 1
        if e.kind == "failed" and reason == "provider_rejected":
            g["skip_provider_rejected"] += 1
        if e.kind == "deferred" and reason == "quiet_hours":
            g["deferred_quiet_hours"] += 1
        for kinds, figure in (
            (("sent",), "sent"),
            (("delivered",), "delivered"),
            (("bounced",), "bounced"),
            (("failed", "dropped"), "failed"),
            (("opened", "read"), "opens_total"),
            (("clicked",), "clicks_total"),
            (("unsubscribed",), "unsubscribes"),
            (("spam_report",), "spam_reports"),
        ):
            if e.kind in kinds:
                g[figure] += 1
    for firsts, figure in ((first_open, "opens_unique"), (first_click, "clicks_unique")):
        for mid, e in firsts.items():
            if inside(e.at):
                out[key(messages[mid])][figure] += 1
    for m in messages.values():
        if m.cost is not None and m.sent_at and inside(m.sent_at):
            out[key(m)]["cost_provider"] += abs(m.cost)
    # Entries and conversions.
    conversions = []  # (profile, at, revenue, holdout, touches)
    if kind == "journey":
        for run in Run.objects.filter(journey_id=cid):
            if inside(run.entered_at):
                out[key(None)]["holdout_entered" if run.holdout else "entered"] += 1
            if run.converted_at:
                event = Event.objects.filter(pk=run.conversion_event_id).first()
                revenue = money(event.properties.get("revenue")) if event else Decimal(0)
                touches = [
                    m
                    for m in messages.values()
                    if m.run_id == run.pk and m.sent_at and m.sent_at <= run.converted_at
                ]
                conversions.append((run.converted_at, revenue, run.holdout, touches))
        for step in RunStep.objects.filter(run__journey_id=cid):
            if inside(step.at):
                out[step_key(step) if step_key else key(None)]["stage_entered"] += 1
    else:
        for r in BroadcastRecipient.objects.filter(broadcast_id=cid):
            m = Message.objects.filter(broadcast_recipient_id=r.pk).first()
            if inside(r.sent_at):
                out[key(m)]["entered"] += 1
            if m is None or m.sent_at is None:
                continue
            hits = Event.objects.filter(
                profile_id=r.profile_id,
                name="Order Completed",
                timestamp__gt=m.sent_at,
                timestamp__lte=m.sent_at + timedelta(days=7),
            ).order_by("timestamp", "id")
            hit = hits.first()
            if hit:
                conversions.append((hit.timestamp, money(hit.properties.get("revenue")), False, [m]))
    for at, revenue, holdout, touches in conversions:
        if not inside(at):
            continue
        if holdout:
            out[key(None)]["holdout_conversions"] += 1
            out[key(None)]["holdout_revenue"] += revenue
            continue
        if not touches:
            out[key(None)]["conversions"] += 1
            out[key(None)]["revenue"] += revenue
            continue
        touches.sort(key=lambda m: (m.sent_at, m.pk))
        if attribution == "linear":
            for m in touches:
                out[key(m)]["conversions"] += Decimal(1) / len(touches)
                out[key(m)]["revenue"] += revenue / len(touches)
        else:
            m = touches[-1] if attribution == "last" else touches[0]
            out[key(m)]["conversions"] += 1
            out[key(m)]["revenue"] += revenue
    return out


FIGURES = [
    "entered", "holdout_entered", "stage_entered", "targeted", "skip_unsubscribed", "skip_suppressed",
    "skip_no_contact_point", "skip_capped", "skip_render_error", "skip_provider_rejected", "skip_other",
    "deferred_quiet_hours", "sent", "delivered", "bounced", "failed", "opens_total", "opens_unique",
    "clicks_total", "clicks_unique", "unsubscribes", "spam_reports", "holdout_conversions",
]  # fmt: skip


def assert_rows_match(rows: list[dict], want: dict, *, group: str, attribution: str) -> None:
    got = {(r[group] if group else ()): metrics.row_derive(r, attribution=attribution) for r in rows}
    keys = {k for k in set(got) | set(want) if any(want.get(k, {}).values()) or k in got}
    for k in keys:
        g, w = got.get(k), want.get(k, Counter())
        assert g is not None, f"missing group {k!r}"
        for figure in FIGURES:
            assert g[figure] == w[figure], f"{group}={k!r} {figure}: report {g[figure]} != raw {w[figure]}"
        assert round(Decimal(g["conversions"]), 4) == round(Decimal(w["conversions"]), 4), (k, "conversions")
        assert round(g["revenue"], 4) == round(Decimal(w["revenue"]), 4), (k, "revenue")
        assert round(g["holdout_revenue"], 4) == round(Decimal(w["holdout_revenue"]), 4), (
            k,
            "holdout revenue",
        )
        # The dataset's providers price in USD: the original amounts, kept apart from the conversion.
        assert g["originals"].get("cost_provider", {}).get("USD", 0) == w["cost_provider"], (k, "cost")


@pytest.fixture
def dataset(db):
    return dataset_generate(seed=11, profiles=160, start=START)


@pytest.mark.parametrize("attribution", ["last", "first", "linear"])
def test_journey_figures_per_stage_equal_raw_rows(dataset, attribution):
    campaign = ("journey", dataset.journey.pk)
    fold.rollups_fold_until_idle(limit=250)
    rows = metrics.report_rows(
        metrics.ReportQuery(campaign=campaign, group_by=["stage"], attribution=attribution)
    )
    want = expected(
        *campaign,
        key=lambda m: m.stage_key if m else "",
        step_key=lambda s: s.stage_key,
        attribution=attribution,
    )
    assert want["nudge"]["sent"] > 10 and want[""]["holdout_entered"] > 5
    assert_rows_match(rows, want, group="stage_key", attribution=attribution)


def test_broadcast_figures_per_variant_and_channel_equal_raw_rows(dataset):
    campaign = ("broadcast", dataset.broadcast.pk)
    fold.rollups_fold_until_idle(limit=500)
    for group, key in (
        ("variant", lambda m: m.variant if m else ""),
        ("channel", lambda m: m.channel if m else ""),
    ):
        rows = metrics.report_rows(metrics.ReportQuery(campaign=campaign, group_by=[group]))
        want = expected(*campaign, key=key)
        assert sum(w["conversions"] for w in want.values()) > 3
        assert_rows_match(rows, want, group=group, attribution="last")


def test_a_date_range_counts_only_what_happened_inside_it(dataset):
    campaign = ("journey", dataset.journey.pk)
    start, end = START + timedelta(days=2), START + timedelta(days=4, hours=5)
    fold.rollups_fold_until_idle()
    rows = metrics.report_rows(
        metrics.ReportQuery(campaign=campaign, start=start, end=end, group_by=["channel"])
    )
    want = expected(*campaign, key=lambda m: m.channel if m else "", start=start, end=end)
    assert_rows_match(rows, want, group="channel", attribution="last")


def test_figures_include_rows_not_folded_yet(dataset):
    """Near real time: nothing folded, half folded, all folded — the same figures as raw rows."""
    campaign = ("journey", dataset.journey.pk)
    raw = metrics.report_rows(metrics.ReportQuery(campaign=campaign, group_by=["variant"], source="raw"))
    assert metrics.report_rows(metrics.ReportQuery(campaign=campaign, group_by=["variant"])) == raw
    fold.rollups_fold(limit=300)
    assert metrics.report_rows(metrics.ReportQuery(campaign=campaign, group_by=["variant"])) == raw
    message = Message.objects.filter(campaign_kind="journey", status="delivered").first()
    MessageEvent.objects.create(message=message, kind="opened", at=datetime.now(UTC))
    fresh = metrics.report_rows(metrics.ReportQuery(campaign=campaign))[0]
    before = next(r for r in raw if r["variant"] == message.variant)
    assert fresh["opens_total"] == sum(r["opens_total"] for r in raw) + 1
    assert before["opens_unique"] >= 0 and fresh["opens_unique"] == sum(r["opens_unique"] for r in raw) + 1
