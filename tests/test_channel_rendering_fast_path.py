"""The email fast path (a compiled plan per variant) gives every recipient exactly what Liquid renders."""

import re

import pytest

from channels import rendering, tokens
from channels.dispatch import dispatch_until_idle
from channels.rendering import RenderError, render_context, render_variant, substitute
from channels.services import message_enqueue
from tests.test_channel_support import profile_make, template_make

pytest_plugins = ["tests.test_channel_support"]

pytestmark = pytest.mark.django_db

PLAIN_HTML = (
    "<html><body><h1>Hello {{ profile.first_name }}</h1>"
    '<p><a href="https://shop.example.com/spring?utm_source=email&amp;c={{ data.code }}">Shop</a> '
    '<a href="https://shop.example.com/about">About</a></p>'
    "<p>{{ profile.city | default: 'Your city' }} · code {{ data.code }}</p>"
    '<p><a href="{{ preferences_url }}">Preferences</a></p></body></html>'
)
PLAIN = {
    "subject": "Spring, {{ profile.first_name }}",
    "html": PLAIN_HTML,
    "text": "Hello {{ profile.first_name }}: https://shop.example.com/spring {{ data.code }}",
}


def _both(variant, profile, data, message_id):
    """(fast path result or its RenderError, full Liquid path result or its RenderError)."""
    out = []
    for render in (render_variant, _liquid_only):
        try:
            out.append(
                render(variant=variant, channel="email", profile=profile, data=data, message_id=message_id)
            )
        except RenderError as exc:
            out.append(exc)
    return out


def _liquid_only(*, variant, channel, profile, data, message_id):
    links = {"unsubscribe_url": rendering.TOKEN_UNSUBSCRIBE, "preferences_url": rendering.TOKEN_PREFERENCES}
    context = render_context(profile=profile, data=data, links=links)
    return rendering._render_liquid(
        variant=variant, channel=channel, profile=profile, data=data, context=context, message_id=message_id
    )


@pytest.mark.parametrize(
    "name",
    [
        "Ana",
        "A & B <i>",
        'O\'Brien "Jr"',
        42,
        0,
        "",
        None,
        True,
        3.5,
        ["a", "b"],
        {"k": 1},
        "100% Ana",
        "href=",
    ],
)
@pytest.mark.parametrize("city", [None, "", "Köln & Bonn", 7, False])
def test_the_fast_path_renders_exactly_what_liquid_renders(name, city):
    variant = template_make(slug="plain", **PLAIN).variants.get()
    traits = {"first_name": name, **({"city": city} if city is not None else {})}
    profile = profile_make(traits=traits)
    fast, liquid = _both(variant, profile, {"code": "X&1"}, message_id=900)
    if isinstance(liquid, RenderError):
        assert isinstance(fast, RenderError) and str(fast) == str(liquid)
        return
    assert fast.content == liquid.content
    assert fast.headers == liquid.headers
    for field in ("html", "text"):  # what a batched recipient receives
        assert substitute(fast.skeleton[field], fast.substitutions) == fast.content[field]


def test_recipients_of_one_plan_share_the_skeleton_and_differ_only_in_substitutions():
    variant = template_make(slug="plain", **PLAIN).variants.get()
    a = render_variant(
        variant=variant, channel="email", profile=profile_make(), data={"code": "A1"}, message_id=1
    )
    b = render_variant(
        variant=variant, channel="email", profile=profile_make(), data={"code": "B2"}, message_id=2
    )
    assert a.batch_key and a.batch_key == b.batch_key
    assert a.skeleton == b.skeleton and a.content["html"] != b.content["html"]
    assert "A1" not in a.skeleton["html"] and "%vy_" in a.skeleton["html"]
    assert set(a.substitutions) <= set(re.findall(r"%vy_[a-z0-9]+%", a.skeleton["html"] + a.skeleton["text"]))


def test_a_link_with_a_variable_is_signed_with_each_recipients_own_url():
    variant = template_make(slug="plain", **PLAIN).variants.get()
    rendered = render_variant(
        variant=variant, channel="email", profile=profile_make(), data={"code": "Z9"}, message_id=77
    )
    clicks = re.findall(r'href="[^"]*/c/([^"/]+)/"', rendered.content["html"])
    urls = [tokens.click_token_read(token) for token in clicks]
    assert urls == [
        (77, "https://shop.example.com/spring?utm_source=email&c=Z9"),
        (77, "https://shop.example.com/about"),
    ]
    assert "/preferences/" in rendered.content["html"]  # our own link is not wrapped in a redirect


def test_templates_with_tags_or_other_filters_take_the_liquid_path():
    variant = template_make(
        slug="tags",
        subject="Hi",
        html="<p>{% if profile.vip %}VIP {% endif %}{{ profile.first_name | upcase }}</p>",
        text="",
    ).variants.get()
    profile = profile_make(traits={"vip": True, "first_name": "ana"})
    rendered = render_variant(variant=variant, channel="email", profile=profile, data={}, message_id=5)
    assert rendered.batch_key == ""
    assert "<p>VIP ANA" in rendered.content["html"]


def test_a_missing_variable_is_still_a_render_error_naming_the_field():
    variant = template_make(slug="plain", **PLAIN).variants.get()
    profile = profile_make()
    profile.traits = {}
    with pytest.raises(RenderError, match="subject: .*first_name"):
        render_variant(variant=variant, channel="email", profile=profile, data={"code": "1"}, message_id=5)


def test_a_campaign_on_the_fast_path_goes_out_in_one_request_with_everyones_own_content(fake_sendgrid):
    variant = template_make(slug="plain", **PLAIN).variants.get()
    profiles = [profile_make(traits={"city": "Porto"} if i % 2 else {}) for i in range(25)]
    for p in profiles:
        message_enqueue(
            profile_id=p.pk,
            channel="email",
            template_slug="plain",
            data={"code": f"C{p.pk}"},
            idempotency_key=f"fast-{p.pk}",
        )
    stats = dispatch_until_idle()
    assert stats.sent == 25
    assert len(fake_sendgrid.requests) == 1
    assert len(fake_sendgrid.requests[0]["body"]["personalizations"]) == 25
    by_to = {e["to"]: e for e in fake_sendgrid.emails}
    for p in profiles:
        email = by_to[p.contact_points.get().address]
        message = p.messages.get()
        expected = _liquid_only(
            variant=variant, channel="email", profile=p, data=message.data, message_id=message.pk
        )
        assert email["html"] == expected.content["html"]
        assert email["text"] == expected.content["text"]
        assert email["subject"] == expected.content["subject"]
        assert ("Porto" if p.traits.get("city") else "Your city") in email["html"]
