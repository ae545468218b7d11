"""Time buckets follow the chosen zone: a day in Tokyo is not a day in São Paulo."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.test import override_settings

from channels.models import Message, MessageEvent, Template
from journeys.reports import fold, metrics
from tracking.models import Profile

TOKYO_SEND = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)  # 01:00 on the 11th in Tokyo
SAO_PAULO_SEND = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)  # 22:00 on the 10th in São Paulo


def sent(profile: Profile, at: datetime, n: int) -> None:
    template, _ = Template.objects.get_or_create(slug="tz-t", defaults={"name": "t", "channel": "email"})
    m = Message.objects.create(
        profile=profile, channel="email", template=template, campaign_kind="broadcast", campaign_id=77,
        idempotency_key=f"tz-{profile.pk}-{n}", due_at=at, sent_at=at, status="sent",
    )  # fmt: skip
    MessageEvent.objects.create(message=m, kind="sent", at=at)


def sent_by_day(tz: str, **kw) -> dict:
    q = metrics.ReportQuery(campaign=("broadcast", 77), tz=tz, bucket="day", **kw)
    return {r["bucket"].date(): r["sent"] for r in metrics.report_rows(q) if r["sent"]}


@pytest.mark.django_db
@pytest.mark.parametrize("folded", [False, True])
def test_days_in_utc_workspace_and_recipient_local_time(folded):
    tokyo, sao_paulo = (
        Profile.objects.create(timezone="Asia/Tokyo"),
        Profile.objects.create(timezone="America/Sao_Paulo"),
    )
    sent(tokyo, TOKYO_SEND, 1)
    for n in range(2):
        sent(sao_paulo, SAO_PAULO_SEND, n)
    if folded:
        fold.rollups_fold_until_idle()
    assert sent_by_day("utc") == {date(2026, 3, 10): 1, date(2026, 3, 11): 2}
    # Each recipient's own calendar: the Tokyo send is on the 11th, the São Paulo ones on the 10th.
    assert sent_by_day("local") == {date(2026, 3, 11): 1, date(2026, 3, 10): 2}
    with override_settings(TIME_ZONE="Asia/Tokyo"):
        assert sent_by_day("workspace") == {date(2026, 3, 11): 3}
    with override_settings(TIME_ZONE="America/Sao_Paulo"):
        assert sent_by_day("workspace") == {date(2026, 3, 10): 3}
        # A date range is read in the chosen zone too.
        assert sent_by_day("workspace", start=date(2026, 3, 10), end=date(2026, 3, 10)) == {
            date(2026, 3, 10): 3
        }
    assert sent_by_day("local", start=date(2026, 3, 11), end=date(2026, 3, 11)) == {date(2026, 3, 11): 1}
    hours = metrics.report_rows(metrics.ReportQuery(campaign=("broadcast", 77), tz="local", bucket="hour"))
    assert {r["bucket"].hour for r in hours if r["sent"]} == {1, 22}
