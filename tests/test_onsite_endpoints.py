"""The public on-site endpoints and the snippet: the script is small, cacheable and versioned, has
nothing a strict CSP forbids; interactions and submits are checked (the arm, the fields, the site)
and the endpoints are rate-limited per client address."""

from __future__ import annotations

import gzip
import json
import re

import pytest
from django.test import Client

from journeys.onsite.models import Interaction, Message, Status, Variant
from journeys.onsite.services import messages_cache_clear
from journeys.onsite.views import SNIPPET
from tracking.models import Source

pytestmark = pytest.mark.django_db

SNIPPET_GZIP_BUDGET = 8 * 1024  # bytes over the wire; docs/onsite.md states it


@pytest.fixture
def site(db) -> Source:
    return Source.objects.create(
        name="shop", write_key="wk_onsite_ep", allowed_origins=["https://shop.example.com"]
    )


@pytest.fixture
def message(site) -> Message:
    m = Message.objects.create(name="Offer", source=site, status=Status.ACTIVE, form_email=True,
                               consents=[{"channel": "email", "topic": "marketing", "label": "Email me"}])  # fmt: skip
    Variant.objects.create(message=m, arm="A", headline="Hi")
    messages_cache_clear()
    return m


def _post(client: Client, path: str, **body) -> object:
    payload = {"writeKey": "wk_onsite_ep", "anonymousId": "anon-1", "sessionId": "s", **body}
    return client.post(f"/v1/onsite/{path}", data=json.dumps(payload), content_type="text/plain")


def test_snippet_is_gzipd_under_budget_cacheable_versioned_and_free_of_eval(settings):
    client = Client()
    packed = client.get("/onsite/1/onsite.js", HTTP_ACCEPT_ENCODING="gzip, br")
    assert packed.status_code == 200 and packed["Content-Encoding"] == "gzip"
    assert len(packed.content) <= SNIPPET_GZIP_BUDGET, len(packed.content)
    assert gzip.decompress(packed.content) == SNIPPET.read_bytes()
    assert packed["Cache-Control"] == "public, max-age=86400" and packed["Vary"] == "Accept-Encoding"
    assert packed["Content-Type"].startswith("application/javascript")
    again = client.get("/onsite/1/onsite.js", HTTP_IF_NONE_MATCH=packed["ETag"])
    assert again.status_code == 304
    assert client.get("/onsite/2/onsite.js").status_code == 404
    source = SNIPPET.read_text()
    for forbidden in (
        r"\beval\(",
        r"new Function",
        r"\.innerHTML",
        r"setTimeout\(\s*['\"]",
        r"\.style\.cssText",
    ):
        assert not re.search(forbidden, source), forbidden


def test_interactions_refuse_an_invented_arm_a_kind_and_another_sites_message(site, message):
    client = Client()
    assert _post(client, "interactions", messageId=message.pk, arm="A", kind="view").status_code == 200
    bad_arm = _post(client, "interactions", messageId=message.pk, arm="Z", kind="view")
    assert bad_arm.status_code == 400 and bad_arm.json()["error"] == {
        "arm": ["not an arm of this message (A)"]
    }
    bad_kind = _post(client, "interactions", messageId=message.pk, arm="A", kind="submit")
    assert bad_kind.status_code == 400 and "kind" in bad_kind.json()["error"]
    other = Source.objects.create(name="other", write_key="wk_other_ep")
    theirs = Message.objects.create(name="Theirs", source=other)
    Variant.objects.create(message=theirs, arm="A", headline="x")
    foreign = _post(client, "interactions", messageId=theirs.pk, arm="A", kind="view")
    assert foreign.status_code == 400 and foreign.json()["error"] == {
        "messageId": ["no such message on this site"]
    }
    assert Interaction.objects.count() == 1


def test_submit_names_each_bad_field(site, message):
    client = Client()
    answer = _post(client, "submit", messageId=message.pk, arm="A", email="nope", consents=["sms:marketing"])
    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "email": ["enter a valid email address"],
        "consents": ["not offered by this message: sms:marketing"],
    }
    assert _post(client, "submit", messageId="1", arm="A").json()["error"] == {
        "messageId": ["required, a number"]
    }


def test_endpoints_are_rate_limited_per_address_with_retry_after(site, message, settings):
    settings.ONSITE_RATE_PER_IP, settings.ONSITE_RATE_BURST = 0.01, 3
    settings.ONSITE_SUBMIT_RATE_PER_IP, settings.ONSITE_SUBMIT_BURST = 0.01, 1
    client = Client()
    assert [_post(client, "decide").status_code for _ in range(4)] == [200, 200, 200, 429]
    limited = _post(client, "decide")
    assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1
    # Another address has its own budget.
    other = client.post(
        "/v1/onsite/decide", data=json.dumps({"writeKey": "wk_onsite_ep", "anonymousId": "b"}),
        content_type="text/plain", REMOTE_ADDR="10.0.0.9",
    )  # fmt: skip
    assert other.status_code == 200
    # Submits have a budget of their own, much smaller.
    body = {"writeKey": "wk_onsite_ep", "anonymousId": "c", "messageId": message.pk, "arm": "A",
            "email": "ada@example.com", "consents": []}  # fmt: skip

    def submit() -> int:
        return client.post(
            "/v1/onsite/submit", data=json.dumps(body), content_type="text/plain", REMOTE_ADDR="10.0.0.7"
        ).status_code

    assert [submit(), submit()] == [200, 429]


def test_demo_shop_page_embeds_the_snippet_and_the_sign_up_offer_is_live(settings):
    import io

    from journeys.onsite.demo import load_demo

    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    source = Source.objects.create(name="web", write_key="wk_demo_web")
    load_demo(stdout=io.StringIO())
    load_demo(stdout=io.StringIO())  # twice: nothing doubled
    assert Message.objects.filter(name__startswith="Demo:", status=Status.ACTIVE).count() == 2
    source.refresh_from_db()
    assert source.allowed_origins == ["http://127.0.0.1:8000"]
    client = Client()
    settings.DEBUG, settings.ONSITE_DEMO_SHOP = False, False
    assert client.get("/onsite/demo/shop/").status_code == 404
    settings.ONSITE_DEMO_SHOP = True
    page = client.get("/onsite/demo/shop/").content.decode()
    assert 'src="/onsite/1/onsite.js" data-write-key="wk_demo_web"' in page
    answer = client.post(
        "/v1/onsite/decide",
        data=json.dumps(
            {"writeKey": "wk_demo_web", "anonymousId": "first-visit", "url": "http://127.0.0.1:8000/"}
        ),
        content_type="text/plain",
        HTTP_ORIGIN="http://127.0.0.1:8000",
    ).json()["messages"]
    signup = Message.objects.get(name="Demo: sign-up offer")
    shown = [m for m in answer if m["id"] == signup.pk]
    held = Interaction.objects.filter(message=signup, kind="holdout").exists()
    assert (shown and shown[0]["trigger"] == {**shown[0]["trigger"], "type": "delay", "seconds": 10}) or held
