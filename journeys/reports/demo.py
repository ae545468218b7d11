"""The demo's reports: once the demo's campaigns have run (load_demo calls the upper floors in order,
this one last), the rollups are rebuilt from their rows so the report pages open with figures."""

from __future__ import annotations

import time
from typing import IO, TextIO

from django.db import connection, transaction

from journeys.reports import facts
from journeys.reports.fold import rollups_rebuild


def reports_rebuild_all(*, stdout: IO[str] | None = None) -> int:
    """Rebuild every campaign's report rollups from raw rows; returns rollup rows written."""
    started = time.perf_counter()
    rows = rollups_rebuild()
    if stdout:
        stdout.write(f"  {rows} rollup rows rebuilt in {time.perf_counter() - started:.1f} s\n")
    return rows


def demo_broadcast_adopt() -> int:
    """The channels demo sends a few welcome emails marked as a broadcast but without one (channels
    sits below journeys): record them as the broadcast they are, so they show under reports."""
    from channels.models import Message
    from journeys.models import Broadcast, BroadcastRecipient, BroadcastVariant

    loose = list(
        Message.objects.filter(
            campaign_kind="broadcast", campaign_id__isnull=True, idempotency_key__startswith="demo-welcome-"
        ).order_by("pk")
    )
    if not loose:
        return 0
    first = min(m.created_at for m in loose)
    broadcast = Broadcast.objects.create(
        name="Welcome email (demo broadcast)", audience_slug="demo-welcome", channel="email",
        status="sent", send_at=first, occurrence=1, conversion_event="Order Completed",
    )  # fmt: skip
    BroadcastVariant.objects.create(broadcast=broadcast, key="A", template_slug="welcome")
    for m in loose:
        recipient, _ = BroadcastRecipient.objects.get_or_create(
            broadcast=broadcast, occurrence=1, profile_id=m.profile_id,
            defaults={"variant": "A", "phase": "all", "sent_at": m.sent_at or m.created_at},
        )  # fmt: skip
        Message.objects.filter(pk=m.pk).update(
            campaign_id=broadcast.pk, variant="A", broadcast_recipient_id=recipient.pk
        )
    return len(loose)


def demo_journey_history_align(*, timeout: float = 600) -> tuple[int, int]:
    """The journeys demo replays the shoppers' past into the lifecycle journey, but its messages are
    only enqueued at load time: sent later, they would follow every (historical) conversion and no
    message could earn one. Send them now through the sandbox (the real dispatch: skips, render
    errors, simulated opens and clicks), then move each message's timeline back to the stage visit
    that sent it, as if the journey had been live. Returns (messages sent, messages moved)."""
    from channels.dispatch import dispatch_until_idle

    sent = dispatch_until_idle(timeout=timeout).sent
    messages, events, steps = (
        facts.table("channels.Message"),
        facts.table("channels.MessageEvent"),
        facts.table("journeys.RunStep"),
    )
    with transaction.atomic(), connection.cursor() as cur:
        # Inside an outer transaction (a test, a reset) ON COMMIT has not come yet: start clean.
        cur.execute("DROP TABLE IF EXISTS pg_temp.demo_shift")
        cur.execute(
            "CREATE TEMP TABLE demo_shift ON COMMIT DROP AS "
            f"SELECT m.id, s.at - m.created_at AS d FROM {messages} m JOIN {steps} s "
            "ON s.run_id = m.run_id AND s.seq = split_part(m.idempotency_key, ':', 4)::int "
            "WHERE m.campaign_kind = 'journey' AND m.idempotency_key LIKE 'journey-run:%%:visit:%%' "
            "AND m.created_at > s.at + interval '1 hour'"
        )
        cur.execute(f"UPDATE {events} e SET at = e.at + x.d FROM demo_shift x WHERE e.message_id = x.id")
        cur.execute(
            f"UPDATE {messages} m SET created_at = m.created_at + x.d, due_at = m.due_at + x.d, "
            "sent_at = m.sent_at + x.d FROM demo_shift x WHERE m.id = x.id"
        )
        moved = cur.rowcount
    return sent, moved


def load_demo(*, stdout: TextIO) -> None:
    from journeys.reports.models import HourlyRollup

    stdout.write("Reports: rollups of the demo's campaigns\n")
    adopted = demo_broadcast_adopt()
    if adopted:
        stdout.write(f"  {adopted} welcome emails of the channels demo recorded as a broadcast\n")
    sent, moved = demo_journey_history_align()
    stdout.write(f"  {sent} journey messages sent; {moved} moved back to the stage visit that sent them\n")
    reports_rebuild_all(stdout=stdout)
    campaigns = HourlyRollup.objects.values_list("campaign_kind", "campaign_id").distinct().count()
    stdout.write(f"  {campaigns} campaigns with figures: open /reports/ (Campaign reports in the admin)\n")
