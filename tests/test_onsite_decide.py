"""The decide endpoint's targeting and caps, on PostgreSQL: what a visitor may see on a page is
decided on the server from the message's rules and the interactions already recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from audiences.models import Audience, AudienceKind, AudienceMembership, ComputedTag
from journeys.onsite.models import Interaction, InteractionKind, Kind, Message, Status, Trigger, Variant
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


@pytest.fixture
def site(db) -> Source:
    return onsite_site(write_key="wk_onsite_shop")


def _message(site: Source, name: str = "Welcome", **fields) -> Message:
    return onsite_message(site, name, **fields)


def _ctx(**overrides) -> PageContext:
    values = dict(
        anonymous_id="anon-1",
        session_id="s-1",
        page_view_id="pv-1",
        url="https://shop.example.com/products/teapot",
    )
    values.update(overrides)
    return PageContext(**values)


def _ids(site: Source, **ctx) -> list[int]:
    return [m["id"] for m in messages_decide(source=site, context=_ctx(**ctx))]


def _known(site: Source, *, user_id: str, anonymous_id: str, tags=(), first_name="Ada"):
    ingest(
        site,
        {
            "type": "identify",
            "messageId": f"id-{user_id}",
            "userId": user_id,
            "anonymousId": anonymous_id,
            "traits": {"email": f"{user_id}@example.com", "first_name": first_name},
        },
    )
    from tracking.models import Identity, IdentityKind

    profile = Identity.objects.get(kind=IdentityKind.USER_ID, value=user_id).profile
    if tags:
        profile.tags = list(tags)
        profile.save(update_fields=["tags"])
    return profile


def test_url_rules_include_and_exclude_by_contains_equals_and_regex(site):
    m = _message(
        site,
        url_rules=[
            {"match": "contains", "value": "/products/"},
            {"match": "equals", "value": "/sale"},
            {"match": "regex", "value": r"/checkout(/|$)", "exclude": True},
            {"match": "regex", "value": r"teapot-\d+$", "exclude": True},
        ],
    )
    assert _ids(site, url="https://shop.example.com/products/cup") == [m.pk]
    assert _ids(site, url="https://shop.example.com/sale") == [m.pk]  # equals on the path
    assert _ids(site, url="https://shop.example.com/sale/old") == []  # not equal, not contained
    assert _ids(site, url="https://shop.example.com/") == []
    assert _ids(site, url="https://shop.example.com/products/teapot-42") == []  # excluded by regex
    assert _ids(site, url="https://shop.example.com/products/x?next=/checkout") == []


def test_device_new_or_returning_visitor_and_utm_source(site):
    mobile = _message(site, "Mobile only", device="mobile")
    returning = _message(site, "Returning", visitor="returning")
    newcomer = _message(site, "New", visitor="new", utm_source="Newsletter")
    assert set(_ids(site, device="mobile", new_visitor=False)) == {mobile.pk, returning.pk}
    assert set(_ids(site, device="desktop", new_visitor=True)) == set()
    assert set(_ids(site, device="desktop", new_visitor=True, utm_source="newsletter")) == {newcomer.pk}


def test_audience_members_and_tags_are_targeted_only_for_signed_user_ids(site):
    audience = Audience.objects.create(slug="vip", name="VIP", kind=AudienceKind.STATIC)
    for_members = _message(site, "VIP offer", audience=audience)
    for_coupon = _message(site, "Coupon offer", required_tags=["coupon_sensitive"])
    for_anonymous = _message(site, "Sign up", who="anonymous")
    member = _known(site, user_id="u-1", anonymous_id="anon-member", tags=["coupon_sensitive"])
    AudienceMembership.objects.create(audience=audience, profile=member, entered_at=timezone.now())
    _known(site, user_id="u-2", anonymous_id="anon-other")

    # The member's own browser (its anonymous id) and a signed user id both see the targeted offers.
    assert set(_ids(site, anonymous_id="anon-member")) == {for_members.pk, for_coupon.pk}
    signed = user_id_sign(source=site, user_id="u-1")
    assert set(_ids(site, anonymous_id="fresh", user_id="u-1", user_id_signature=signed)) == {
        for_members.pk,
        for_coupon.pk,
    }
    # A forged (unsigned) user id is ignored: the visitor is an unknown browser.
    assert _ids(site, anonymous_id="fresh-2", user_id="u-1") == [for_anonymous.pk]
    assert _ids(site, anonymous_id="fresh-3", user_id="u-1", user_id_signature="0" * 64) == [for_anonymous.pk]
    # A known non-member sees neither targeted offer nor the anonymous-only one.
    assert _ids(site, anonymous_id="anon-other") == []

    # Computed tags count as well as the profile's own.
    computed = _message(site, "High coupon", required_tags=["coupon_sensitivity:high"])
    other = Identity.objects.get(kind=IdentityKind.USER_ID, value="u-2").profile
    assert computed.pk not in _ids(site, anonymous_id="anon-other")
    ComputedTag.objects.create(
        profile=other, name="coupon_sensitivity:high", family="coupon_sensitivity", computed_at=timezone.now()
    )
    assert _ids(site, anonymous_id="anon-other") == [computed.pk]


def test_content_is_personal_only_for_the_visitors_own_profile(site):
    _message(site)
    _known(site, user_id="u-7", anonymous_id="anon-7", first_name="Grace")
    signed = user_id_sign(source=site, user_id="u-7")
    mine = messages_decide(
        source=site, context=_ctx(anonymous_id="x", user_id="u-7", user_id_signature=signed)
    )
    forged = messages_decide(source=site, context=_ctx(anonymous_id="y", user_id="u-7"))
    assert mine[0]["content"]["headline"] == "Hello Grace"
    assert forged[0]["content"]["headline"] == "Hello there"
    # The answer carries the message, not the profile.
    assert "traits" not in str(mine) and "u-7@example.com" not in str(mine)


def _view(site: Source, message: Message, **ctx) -> None:
    interaction_record(source=site, context=_ctx(**ctx), message_id=message.pk, arm="A", kind="view")


def test_max_views_stops_the_third_showing_and_once_per_session(site, settings):
    settings.ONSITE_POPUP_MIN_GAP_SECONDS = 0  # the site-wide gap is tested on its own below
    m = _message(site, once_per_session=False, max_views=2)
    for pv in ("pv-1", "pv-2"):
        assert _ids(site, page_view_id=pv) == [m.pk]
        _view(site, m, page_view_id=pv)
    assert _ids(site, page_view_id="pv-3") == []

    per_session = _message(site, "Once a session", once_per_session=True)
    _view(site, per_session, anonymous_id="anon-9", session_id="s-a")
    assert per_session.pk not in _ids(site, anonymous_id="anon-9", session_id="s-a")
    assert per_session.pk in _ids(site, anonymous_id="anon-9", session_id="s-b")


def test_every_n_days_and_stop_after_submit_or_click(site, settings):
    settings.ONSITE_POPUP_MIN_GAP_SECONDS = 0
    m = _message(site, once_per_session=False, min_days_between=3)
    _view(site, m)
    assert _ids(site, session_id="s-2") == []
    Interaction.objects.filter(message=m).update(at=timezone.now() - timedelta(days=4))
    assert _ids(site, session_id="s-2") == [m.pk]

    clicked = _message(site, "Click once", once_per_session=False, stop_after_click=True)
    interaction_record(
        source=site, context=_ctx(anonymous_id="c"), message_id=clicked.pk, arm="A", kind="click"
    )
    assert clicked.pk not in _ids(site, anonymous_id="c")
    Interaction.objects.create(
        message=m,
        arm="A",
        kind=InteractionKind.SUBMIT,
        anonymous_id="sub",
        at=timezone.now() - timedelta(days=30),
    )
    assert m.pk not in _ids(site, anonymous_id="sub")


def test_caps_hold_for_a_known_profile_whose_browser_storage_was_cleared(site):
    m = _message(site, once_per_session=False, max_views=1)
    _known(site, user_id="u-5", anonymous_id="old-browser-id")
    signed = user_id_sign(source=site, user_id="u-5")
    _view(site, m, anonymous_id="old-browser-id")
    # New anonymous id (storage cleared), same signed user: still capped.
    assert _ids(site, anonymous_id="new-browser-id", user_id="u-5", user_id_signature=signed) == []


def test_site_wide_gap_between_pop_ups_but_bars_and_blocks_are_not_held(site, settings):
    settings.ONSITE_POPUP_MIN_GAP_SECONDS = 60
    first = _message(site, "First", priority=2, once_per_session=False)
    second = _message(site, "Second", priority=1, once_per_session=False)
    bar = _message(site, "Bar", kind=Kind.BAR_TOP, once_per_session=False)
    _view(site, first, page_view_id="pv-1")
    # Same page view: the snippet shows at most one pop-up anyway; another page within the gap: none.
    assert set(_ids(site, page_view_id="pv-2")) == {bar.pk}
    Interaction.objects.update(at=timezone.now() - timedelta(seconds=61))
    assert set(_ids(site, page_view_id="pv-3")) == {first.pk, second.pk, bar.pk}


def test_holdout_is_sticky_per_visitor_and_recorded_once(site, settings):
    settings.ONSITE_POPUP_MIN_GAP_SECONDS = 0
    m = _message(site, holdout_percent=50, once_per_session=False)
    Variant.objects.create(message=m, arm="B", headline="Other")
    messages_cache_clear()
    seen: dict[str, str | None] = {}
    for i in range(60):
        key = f"visitor-{i}"
        first = messages_decide(source=site, context=_ctx(anonymous_id=key))
        again = messages_decide(source=site, context=_ctx(anonymous_id=key, page_view_id="pv-2"))
        assert [x["arm"] for x in first] == [
            x["arm"] for x in again
        ]  # sticky: same arm or held out both times
        seen[key] = first[0]["arm"] if first else None
    held = [k for k, arm in seen.items() if arm is None]
    assert 15 <= len(held) <= 45  # 50% of 60, hash-bucketed: far from both ends
    assert {arm for arm in seen.values() if arm} == {"A", "B"}
    rows = Interaction.objects.filter(message=m, kind=InteractionKind.HOLDOUT)
    assert rows.count() == len(held) and set(rows.values_list("anonymous_id", flat=True)) == set(held)


def test_locale_variants_fall_back_to_language_then_english(site):
    m = _message(site)
    Variant.objects.create(message=m, arm="A", locale="de", headline="Hallo")
    Variant.objects.create(message=m, arm="A", locale="fr-ca", headline="Allô")
    messages_cache_clear()

    def headline(locale: str) -> str:
        return messages_decide(source=site, context=_ctx(locale=locale))[0]["content"]["headline"]

    assert headline("de-AT") == "Hallo"
    assert headline("fr-CA") == "Allô"
    assert headline("ja") == "Hello there"


def test_paused_message_and_another_sites_message_are_not_shown(site):
    m = _message(site)
    other = Source.objects.create(name="other", write_key="wk_other_site")
    _message(other, "Elsewhere")
    assert _ids(site) == [m.pk]
    Message.objects.filter(pk=m.pk).update(status=Status.PAUSED)
    messages_cache_clear()
    assert _ids(site) == []


def test_decide_endpoint_answers_the_trigger_and_refuses_bad_input_naming_the_field(site):
    _message(site, trigger=Trigger.PAGES, trigger_pages=3)
    client = Client()
    ok = client.post(
        "/v1/onsite/decide",
        data=b'{"writeKey": "wk_onsite_shop", "anonymousId": "a", "url": "https://shop.example.com/"}',
        content_type="text/plain",
        HTTP_ORIGIN="https://shop.example.com",
    )
    assert ok.status_code == 200
    assert ok.json()["messages"][0]["trigger"]["pages"] == 3
    assert ok["Access-Control-Allow-Origin"] == "https://shop.example.com"
    missing = client.post(
        "/v1/onsite/decide", data=b'{"writeKey": "wk_onsite_shop"}', content_type="text/plain"
    )
    assert missing.status_code == 400 and missing.json()["error"] == {"anonymousId": ["required"]}
    bad_key = client.post(
        "/v1/onsite/decide", data=b'{"writeKey": "nope", "anonymousId": "a"}', content_type="text/plain"
    )
    assert bad_key.status_code == 401
    other_origin = client.post(
        "/v1/onsite/decide",
        data=b'{"writeKey": "wk_onsite_shop", "anonymousId": "a"}',
        content_type="text/plain",
        HTTP_ORIGIN="https://evil.example.net",
    )
    assert other_origin.status_code == 403 and "Access-Control-Allow-Origin" not in other_origin
    assert client.post("/v1/onsite/decide", data=b"[1", content_type="text/plain").status_code == 400


def test_one_page_view_gets_a_few_pop_ups_one_bar_per_edge_and_one_block_per_selector(site, settings):
    settings.ONSITE_POPUPS_PER_PAGE = 2
    popups = [_message(site, f"Pop-up {i}", priority=10 - i) for i in range(4)]
    top = [_message(site, f"Top bar {i}", kind=Kind.BAR_TOP, priority=5 - i) for i in range(2)]
    blocks = [
        _message(site, f"Block {i}", kind=Kind.EMBEDDED, embed_selector=sel, priority=3 - i)
        for i, sel in enumerate(("#offer", "#offer", "#footer"))
    ]
    assert set(_ids(site)) == {popups[0].pk, popups[1].pk, top[0].pk, blocks[0].pk, blocks[2].pk}


def test_a_held_out_visitor_sees_nothing_in_that_place_and_is_counted_once(site, settings):
    settings.ONSITE_POPUPS_PER_PAGE = 1
    first = _message(site, "First", priority=2, holdout_percent=50, once_per_session=False)
    second = _message(site, "Second", priority=1, once_per_session=False)
    for i in range(20):
        shown = _ids(site, anonymous_id=f"v-{i}", page_view_id=f"pv-{i}")
        held = Interaction.objects.filter(message=first, kind=InteractionKind.HOLDOUT, anonymous_id=f"v-{i}")
        assert shown == ([] if held.exists() else [first.pk])  # never the lower one in its place
    assert not Interaction.objects.filter(message=second).exists()
