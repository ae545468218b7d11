"""The decide path's cost in database round trips: one per page view whatever the visitor (profile,
caps, memberships and computed tags together), none when no message may show on the page, and the
site's messages are read again only when their few seconds are up."""

from __future__ import annotations

import pytest
from django.utils import timezone

from audiences.models import Audience, AudienceKind, AudienceMembership, ComputedTag
from journeys.onsite.models import Kind, Message, Status
from journeys.onsite.services import (
    PageContext,
    interaction_record,
    messages_cache_clear,
    messages_decide,
    user_id_sign,
)
from tests.onsite_helpers import _fresh_site_messages, onsite_message, onsite_site  # noqa: F401
from tests.tracking_helpers import ingest
from tracking.models import Identity, IdentityKind, Source

pytestmark = pytest.mark.django_db

URL = "https://shop.example.com/products/teapot"


@pytest.fixture
def site(db) -> Source:
    return onsite_site(write_key="wk_onsite_rt", name="shop-rt")


def _message(site: Source, name: str, **fields) -> Message:
    return onsite_message(site, name, **fields)


def _decide(site: Source, **ctx) -> list[int]:
    values = {"anonymous_id": "anon-rt", "session_id": "s-1", "page_view_id": "pv-1", "url": URL, **ctx}
    return [m["id"] for m in messages_decide(source=site, context=PageContext(**values))]


def test_a_known_visitor_with_audiences_tags_and_caps_costs_one_round_trip(site, django_assert_num_queries):
    audience = Audience.objects.create(slug="rt-vip", name="VIP", kind=AudienceKind.STATIC)
    for_members = _message(site, "Members", audience=audience, priority=3)
    for_tags = _message(
        site, "Tagged", kind=Kind.BAR_TOP, required_tags=["coupon_sensitivity:high"], priority=2
    )
    capped = _message(site, "Capped", kind=Kind.BAR_BOTTOM, max_views=1, once_per_session=False, priority=1)
    ingest(site, {"type": "identify", "messageId": "rt-1", "userId": "u-rt", "anonymousId": "anon-rt",
                  "traits": {"email": "rt@example.com", "first_name": "Ada"}})  # fmt: skip
    profile = Identity.objects.get(kind=IdentityKind.USER_ID, value="u-rt").profile
    AudienceMembership.objects.create(audience=audience, profile=profile, entered_at=timezone.now())
    ComputedTag.objects.create(
        profile=profile,
        name="coupon_sensitivity:high",
        family="coupon_sensitivity",
        computed_at=timezone.now(),
    )
    interaction_record(
        source=site, context=PageContext(anonymous_id="anon-rt", session_id="s-0", page_view_id="pv-0", url=URL),
        message_id=capped.pk, arm="A", kind="view",
    )  # fmt: skip
    _decide(site)  # the site's messages compiled once
    signed = user_id_sign(source=site, user_id="u-rt")
    with django_assert_num_queries(1):
        shown = _decide(site, anonymous_id="new-browser", user_id="u-rt", user_id_signature=signed)
    assert shown == [for_members.pk, for_tags.pk]  # the capped one is not: viewed once, by profile
    with django_assert_num_queries(1):  # a browser we do not know: only the cap applies, and it has none
        assert _decide(site, anonymous_id="someone-else") == [capped.pk]


def test_a_page_no_message_may_show_on_costs_no_round_trip(site, django_assert_num_queries):
    _message(site, "Products only", url_rules=[{"match": "contains", "value": "/products/"}])
    _message(site, "Mobile only", device="mobile")
    assert len(_decide(site)) == 1
    with django_assert_num_queries(0):
        assert _decide(site, url="https://shop.example.com/cart") == []


def test_the_sites_messages_are_read_again_only_after_their_few_seconds(site, django_assert_num_queries):
    first, second = _message(site, "First", priority=2), _message(site, "Second", priority=1)
    assert _decide(site) == [first.pk, second.pk]
    Message.objects.filter(pk=first.pk).update(status=Status.PAUSED)
    with django_assert_num_queries(1):  # the visitor only: the compiled messages are still fresh
        assert _decide(site, anonymous_id="anon-2") == [first.pk, second.pk]
    messages_cache_clear()  # what the admin does on save (and the other processes after 5 s)
    with django_assert_num_queries(3):  # the site's messages, their variants, the visitor
        assert _decide(site, anonymous_id="anon-3") == [second.pk]
