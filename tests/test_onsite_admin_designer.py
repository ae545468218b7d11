"""The on-site message designer's server side: the form refuses nonsense beside the field at fault
(negative seconds, a bad regex, shares not adding up to 100, an unknown audience, a template that does
not parse, with its line), saves rules and consent checkboxes typed as rows (no JSON), and the live
preview answers the draft through the snippet's own endpoints under a preview token, records
nothing, and shows a sample profile's traits only to those who may see personal data. Marketers read
and may press nothing. The browser side is tests/test_onsite_admin_browser.py."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from django.test import Client

from audiences.models import Audience
from journeys.onsite.forms import liquid_problem
from journeys.onsite.models import Interaction, Message, Status, Variant
from tests.tracking_helpers import role_user
from tracking.models import Profile, Source

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(db) -> Source:
    return Source.objects.create(
        name="teapot-web", write_key="wk_designer", allowed_origins=["https://teapots.example"]
    )


@pytest.fixture
def designer(db) -> Client:
    client = Client()
    client.force_login(role_user("journey designer", "dana", staff=True))
    return client


@pytest.fixture
def marketer(db) -> Client:
    client = Client()
    client.force_login(role_user("marketer", "mark", staff=True))
    return client


def _post(site: Source, **overrides: Any) -> dict[str, Any]:
    """What the designer page posts for a modal after 5 s with one arm (A, en)."""
    data: dict[str, Any] = {
        "name": "Welcome offer",
        "source": str(site.pk),
        "kind": "modal",
        "embed_selector": "",
        "status": "draft",
        "priority": "0",
        "trigger": "delay",
        "trigger_seconds": "5",
        "url_rules-0-mode": "include",
        "url_rules-0-match": "contains",
        "url_rules-0-value": "/products/",
        "url_rules-1-mode": "exclude",
        "url_rules-1-match": "regex",
        "url_rules-1-value": r"/checkout(/|$)",
        "device": "any",
        "visitor": "any",
        "who": "any",
        "utm_source": "",
        "required_tags": "",
        "form_email": "on",
        "consents-0-key": "email:marketing",
        "consents-0-on": "1",
        "consents-0-label": "Email me offers",
        "consents-1-key": "sms:marketing",
        "consents-1-label": "Text me offers",
        "once_per_session": "on",
        "stop_after_submit": "on",
        "holdout_percent": "0",
        "goal_event": "Order Completed",
        "goal_days": "7",
        "variants-TOTAL_FORMS": "1",
        "variants-INITIAL_FORMS": "0",
        "variants-MIN_NUM_FORMS": "1",
        "variants-MAX_NUM_FORMS": "1000",
        "variants-0-arm": "A",
        "variants-0-weight": "100",
        "variants-0-locale": "en",
        "variants-0-headline": "Hello {{ profile.first_name | default: 'there' }}",
        "variants-0-body": "10% off today",
        "variants-0-coupon_code": "WELCOME10",
        "variants-0-cta_label": "Shop now",
        "variants-0-cta_url": "/sale",
        "variants-0-submit_label": "Sign up",
        "variants-0-success_text": "Thanks!",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _errors(response) -> dict[str, list[str]]:
    """Field name -> messages, for the main form and each inline form."""
    found: dict[str, list[str]] = {}
    adminform = response.context["adminform"]
    for name, problems in adminform.form.errors.items():
        found[name] = list(problems)
    for formset in response.context["inline_admin_formsets"]:
        for i, form in enumerate(formset.formset.forms):
            for name, problems in form.errors.items():
                found[f"variants-{i}-{name}"] = list(problems)
        if formset.formset.non_form_errors():
            found["variants"] = list(formset.formset.non_form_errors())
    return found


def test_a_message_typed_as_rows_is_saved_as_the_lists_decide_reads(designer, site):
    response = designer.post("/admin/onsite/message/add/", _post(site))
    assert response.status_code == 302, _errors(response)
    message = Message.objects.get(name="Welcome offer")
    assert message.url_rules == [
        {"match": "contains", "value": "/products/", "exclude": False},
        {"match": "regex", "value": r"/checkout(/|$)", "exclude": True},
    ]
    # Only the ticked checkbox is offered.
    assert message.consents == [{"channel": "email", "topic": "marketing", "label": "Email me offers"}]
    assert (message.trigger_seconds, message.trigger_pages) == (5, None)
    assert message.variants.get().weight == 100


def test_nonsense_is_refused_beside_the_field_that_has_it(designer, site):
    Audience.objects.create(slug="vip", name="VIP")
    response = designer.post(
        "/admin/onsite/message/add/",
        _post(
            site,
            trigger_seconds="-5",
            audience="999999",
            **{
                "url_rules-1-value": "/products/([",
                "consents-1-on": "1",  # an SMS checkbox on a form that asks for no phone number
                "variants-0-headline": "Hello\n{{ profile.first_name }",
                "variants-0-image_url": "http://cdn.example/x.png",
                "variants-0-cta_url": "https://elsewhere.example.net/",
            },
        ),
    )
    assert response.status_code == 200
    errors = _errors(response)
    assert "greater than or equal to 1" in " ".join(errors["trigger_seconds"])
    assert "no such audience" in " ".join(errors["audience"])
    assert "rule 2: not a valid regular expression" in " ".join(errors["url_rules"])
    assert "sms / marketing: the form must ask for a phone number" in " ".join(errors["consents"])
    assert " ".join(errors["variants-0-headline"]).startswith("line 2: ")
    assert "https://" in " ".join(errors["variants-0-image_url"])
    assert "allowed origins" in " ".join(errors["variants-0-cta_url"])
    assert not Message.objects.exists()


def test_arm_shares_must_add_up_to_100_and_an_arm_has_one_share(designer, site):
    two_arms = {
        "variants-TOTAL_FORMS": "3",
        "variants-0-weight": "50",
        "variants-1-arm": "B",
        "variants-1-weight": "40",
        "variants-1-locale": "en",
        "variants-1-headline": "Offer B",
        "variants-2-arm": "B",
        "variants-2-weight": "40",
        "variants-2-locale": "de",
        "variants-2-headline": "Angebot B",
    }
    errors = _errors(designer.post("/admin/onsite/message/add/", _post(site, **two_arms)))
    assert "add up to 90 % (A 50 + B 40)" in " ".join(errors["variants"])
    assert "not 100" in " ".join(errors["variants-1-weight"])
    errors = _errors(
        designer.post("/admin/onsite/message/add/", _post(site, **{**two_arms, "variants-2-weight": "50"}))
    )
    assert "arm B has one share in every locale" in " ".join(errors["variants-2-weight"])
    response = designer.post(
        "/admin/onsite/message/add/",
        _post(site, **{**two_arms, "variants-1-weight": "50", "variants-2-weight": "50"}),
    )
    assert response.status_code == 302
    assert sorted(Variant.objects.values_list("arm", "locale", "weight")) == [
        ("A", "en", 50),
        ("B", "de", 50),
        ("B", "en", 50),
    ]


def test_trigger_fields_of_another_trigger_are_cleared_and_a_selector_is_checked(designer, site):
    response = designer.post(
        "/admin/onsite/message/add/",
        _post(site, kind="embedded", embed_selector="div{color:red}", trigger="exit_intent"),
    )
    assert "not a CSS selector" in " ".join(_errors(response)["embed_selector"])
    response = designer.post(
        "/admin/onsite/message/add/",
        _post(site, kind="embedded", embed_selector="#offer", trigger="exit_intent"),
    )
    assert response.status_code == 302, _errors(response)
    message = Message.objects.get()
    assert (message.trigger, message.trigger_seconds, message.embed_selector) == (
        "exit_intent",
        None,
        "#offer",
    )


def test_liquid_problems_name_their_line():
    assert liquid_problem(text="Hello") is None
    assert liquid_problem(text="{{ profile.first_name | default: 'there' }}") is None
    assert liquid_problem(text="one\ntwo\n{% if x %}three").startswith("line ")
    assert liquid_problem(text="a\n{{ b }").startswith("line 2: ")
    assert liquid_problem(text="{{ 'x' | no_such_filter }}") is not None


def _decide(client: Client, frame: str) -> dict[str, Any]:
    base = frame.removesuffix("/frame/")
    response = client.post(f"{base}/v1/onsite/decide", data=b"{}", content_type="text/plain")
    assert response.status_code == 200
    return orjson.loads(response.content)


def test_preview_renders_the_draft_for_the_snippet_and_records_nothing(designer, site):
    profile = Profile.objects.create(traits={"first_name": "Ana", "email": "ana@shop.example"})
    answer = designer.post(
        "/admin/onsite/message/preview/",
        _post(site, _preview_profile=str(profile.pk), **{"variants-0-weight": "100"}),
    ).json()
    assert answer["errors"] == []
    assert answer["variants"] == [{"index": 0, "label": "A · en"}]
    frame = answer["frame"]
    page = designer.get(frame)
    assert page.status_code == 200 and page["X-Frame-Options"] == "SAMEORIGIN"
    html = page.content.decode()
    snippet_url = frame.removesuffix("frame/") + "onsite/1/onsite.js"
    assert f'src="{snippet_url}"' in html
    # The snippet served there is the shops' file, byte for byte.
    public = Client().get("/onsite/1/onsite.js", HTTP_ACCEPT_ENCODING="identity").content
    assert Client().get(snippet_url).content == public
    # Its endpoints need no cookie (the snippet sends none): the token is the key.
    decided = _decide(Client(), frame)["messages"]
    assert len(decided) == 1
    shown = decided[0]
    assert shown["content"]["headline"] == "Hello Ana"  # the designer may see a sample profile
    assert (shown["kind"], shown["form"]["consents"]) == (
        "modal",
        [{"key": "email:marketing", "label": "Email me offers"}],
    )
    for action in ("interactions", "submit"):
        assert Client().post(
            f"{frame.removesuffix('/frame/')}/v1/onsite/{action}", data=b"{}", content_type="text/plain"
        ).json() == {"success": True, "preview": True}
    assert not Interaction.objects.exists() and not Message.objects.exists()
    # An unknown token shows nothing.
    assert _decide(Client(), "/admin/onsite/message/preview/nope/frame/") == {"messages": []}


def test_preview_lists_problems_by_field_while_still_drawing_what_it_can(designer, site):
    answer = designer.post(
        "/admin/onsite/message/preview/",
        _post(site, trigger_seconds="-1", **{"url_rules-0-match": "regex", "url_rules-0-value": "(["}),
    ).json()
    named = {e["field"]: (e["label"], " ".join(e["messages"])) for e in answer["errors"]}
    assert named["trigger_seconds"][0] == "Seconds on the page"
    assert named["url_rules"][0] == "Pages (URL rules)" and "rule 1" in named["url_rules"][1]
    assert answer["token"]
    answer = designer.post(
        "/admin/onsite/message/preview/", _post(site, **{"variants-0-body": "{% if %}"})
    ).json()
    named = {e["field"]: (e["label"], " ".join(e["messages"])) for e in answer["errors"]}
    assert named["variants-0-body"][0] == "Content A/en › Body"
    assert named["variants-0-body"][1].startswith("line 1: ")


def test_marketer_reads_without_buttons_and_previews_only_the_saved_message_anonymously(
    designer, marketer, site
):
    assert designer.post("/admin/onsite/message/add/", _post(site)).status_code == 302
    message = Message.objects.get()
    profile = Profile.objects.create(traits={"first_name": "Ana"})
    page = marketer.get(f"/admin/onsite/message/{message.pk}/change/").content.decode()
    assert 'name="_save"' not in page and "vy-state" not in page
    assert "pages whose URL contains &#x27;/products/&#x27;" in page
    assert 'data-readonly="1"' in page
    # Changing, pausing: refused.
    assert marketer.post(f"/admin/onsite/message/{message.pk}/state/pause/").status_code == 403
    # Their preview is of the saved message (whatever they post) and anonymous.
    answer = marketer.post(
        "/admin/onsite/message/preview/",
        {
            "_preview_message": str(message.pk),
            "_preview_profile": str(profile.pk),
            "variants-0-headline": "X",
        },
    ).json()
    shown = _decide(Client(), answer["frame"])["messages"][0]
    assert shown["content"]["headline"] == "Hello there"
    message.refresh_from_db()
    assert message.status == Status.DRAFT


def test_designer_pauses_and_resumes_from_the_message_page(designer, site):
    assert designer.post("/admin/onsite/message/add/", _post(site, status="active")).status_code == 302
    message = Message.objects.get()
    page = designer.get(f"/admin/onsite/message/{message.pk}/change/").content.decode()
    assert ">Pause</button>" in page
    assert designer.get(f"/admin/onsite/message/{message.pk}/state/pause/").status_code == 405
    response = designer.post(f"/admin/onsite/message/{message.pk}/state/pause/")
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.status == Status.PAUSED
    assert ">Resume</button>" in designer.get(f"/admin/onsite/message/{message.pk}/change/").content.decode()
    designer.post(f"/admin/onsite/message/{message.pk}/state/resume/")
    message.refresh_from_db()
    assert message.status == Status.ACTIVE


def test_relative_weights_are_shown_as_the_percentages_they_amount_to(designer, site):
    message = Message.objects.create(name="Demo-like", source=site)
    for arm in ("A", "B", "C"):
        Variant.objects.create(message=message, arm=arm, weight=1, headline=f"Offer {arm}")
    response = designer.get(f"/admin/onsite/message/{message.pk}/change/")
    formset = response.context["inline_admin_formsets"][0].formset
    assert [f["weight"].value() for f in formset.forms] == [34, 33, 33]


def test_an_embedded_block_is_previewed_in_a_stand_in_for_its_selector(designer, site):
    answer = designer.post(
        "/admin/onsite/message/preview/", _post(site, kind="embedded", embed_selector=".product-hero > div")
    ).json()
    assert answer["errors"] == [] and answer["kind"] == "embedded"
    shown = _decide(Client(), answer["frame"])["messages"][0]
    assert shown["selector"] == "#voyage-preview-slot"
    page = designer.get(answer["frame"]).content.decode()
    assert 'id="voyage-preview-slot"' in page and "<code>.product-hero &gt; div</code>" in page


def test_stop_after_a_conversion_is_offered_and_needs_a_goal_event(designer, site):
    refused = designer.post(
        "/admin/onsite/message/add/", _post(site, stop_after_conversion="on", goal_event="")
    )
    assert refused.status_code == 200
    assert "needs the goal event" in " ".join(_errors(refused)["stop_after_conversion"])
    saved = designer.post("/admin/onsite/message/add/", _post(site, stop_after_conversion="on"))
    assert saved.status_code == 302, _errors(saved)
    assert Message.objects.get(name="Welcome offer").stop_after_conversion is True
