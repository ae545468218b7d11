"""On-site form submissions are a claimed-work loop like the others (issue 11): one that cannot be
applied is set aside and the rest are applied; submits still waiting for their profile do not hold
the head of the queue."""

from __future__ import annotations

import pytest

from core.models import SetAside, SetAsideState
from core.setaside import set_aside_retry
from journeys.onsite.models import Message, Status, Submission, SubmissionStatus
from journeys.onsite.services import submissions_apply
from tests.tracking_helpers import ingest
from tracking.models import Consent, Source

pytestmark = pytest.mark.django_db
EMAIL_OK = [{"channel": "email", "topic": "marketing", "granted": True}]


@pytest.fixture
def message(db) -> Message:
    site = Source.objects.create(name="shop-web", write_key="wk_onsite_setaside")
    return Message.objects.create(name="Sign-up offer", source=site, status=Status.ACTIVE)


def _submit(message: Message, anon: str, *, consents=EMAIL_OK, resolved: bool = True) -> Submission:
    if resolved:
        ingest(
            message.source,
            {"type": "identify", "messageId": f"i-{anon}", "anonymousId": anon, "traits": {"email": f"{anon}@example.com"}},
        )  # fmt: skip
    return Submission.objects.create(
        message=message, arm="A", anonymous_id=anon, email=f"{anon}@example.com", consents=consents
    )


def test_a_submission_that_cannot_be_applied_is_set_aside_and_the_others_are_applied(message):
    good_before = _submit(message, "before")
    bad = _submit(message, "broken", consents=[{"topic": "marketing"}])  # no channel: KeyError
    good_after = _submit(message, "after")

    assert submissions_apply() == 2

    statuses = dict(Submission.objects.values_list("pk", "status"))
    assert statuses[good_before.pk] == statuses[good_after.pk] == SubmissionStatus.APPLIED
    assert statuses[bad.pk] == SubmissionStatus.PENDING
    record = SetAside.objects.get(queue="onsite_submissions", row_id=bad.pk)
    assert record.state == SetAsideState.SET_ASIDE and record.error_class.endswith("KeyError")
    assert Consent.objects.filter(method="onsite form").count() == 2
    assert submissions_apply() == 0  # not claimed again while set aside

    Submission.objects.filter(pk=bad.pk).update(consents=EMAIL_OK)  # the fix
    assert set_aside_retry(ids=[record.pk]) == 1
    assert submissions_apply() == 1  # (the retry's wake-up runs on commit, which a test never reaches)
    assert Submission.objects.get(pk=bad.pk).status == SubmissionStatus.APPLIED


def test_submissions_waiting_for_their_profile_do_not_block_the_ones_behind_them(message):
    waiting = [_submit(message, f"unresolved-{i}", resolved=False) for i in range(3)]
    ready = _submit(message, "ready")

    assert submissions_apply(limit=3) == 0  # the three waiting ones were looked at first
    assert submissions_apply(limit=3) == 1  # then the one never looked at comes before them
    assert Submission.objects.get(pk=ready.pk).status == SubmissionStatus.APPLIED
    assert all(
        s.status == SubmissionStatus.PENDING
        for s in Submission.objects.filter(pk__in=[w.pk for w in waiting])
    )
