"""The official Segment Python client sends to Voyage by changing only its host; everything is readable back.

A real live server (pytest-django `live_server`), the unmodified `segment-analytics-python` client with
its own batching (and gzip), then the profile API over HTTP with a Bearer token.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from segment.analytics import Client
from segment.analytics import request as segment_request

from tracking.models import Source
from tracking.processing import events_process_pending

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BATCH_SIZE = 1000


class Api:
    """The management API over real HTTP."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        r = self.session.get(self.base + path, params=params, timeout=30)
        assert r.status_code == 200, (path, r.status_code, r.text[:500])
        return r.json()

    def profile_id(self, **identity: str) -> int:
        results = self.get("/api/profiles/", **identity)["results"]
        assert len(results) == 1, (identity, results)
        return results[0]["id"]

    def events(self, profile_id: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        url: str | None = f"{self.base}/api/profiles/{profile_id}/events/?page_size=250"
        while url:
            r = self.session.get(url, timeout=30)
            assert r.status_code == 200, r.text[:500]
            body = r.json()
            found.extend(body["results"])
            url = body["next"]
        return found


@pytest.fixture
def api(live_server) -> Iterator[Api]:
    user = User.objects.create_superuser("segment-test", "s@example.com", "pw-segment-1")
    api = Api(live_server.url, Token.objects.create(user=user).key)
    yield api
    # Close keep-alive connections (ours and the client's shared session), so the live server's
    # request threads end and release their database connections before the test database is dropped.
    api.session.close()
    segment_request._session.close()


@pytest.fixture
def write_key() -> str:
    return Source.objects.create(name="python-server", write_key="wk_python_server_1").write_key


def segment_client(live_server, write_key: str, errors: list, *, gzip: bool) -> Client:
    return Client(
        write_key,
        host=live_server.url,  # the only change from sending to Segment
        gzip=gzip,
        max_retries=1,
        on_error=lambda error, batch: errors.append((error, len(batch))),
    )


def sent(result: tuple[bool, dict[str, Any]]) -> dict[str, Any]:
    ok, message = result
    assert ok
    return message


def test_official_client_events_are_all_readable_through_the_profile_api(live_server, api, write_key):
    errors: list = []
    plain = segment_client(live_server, write_key, errors, gzip=False)
    messages = [
        sent(
            plain.track(
                anonymous_id="anon-77", event="Product Viewed", properties={"sku": "SKU-1", "price": 19.9}
            )
        ),
        sent(
            plain.identify(user_id="u-77", traits={"email": "Mia@Example.com", "name": "Mia", "plan": "pro"})
        ),
        sent(plain.page(user_id="u-77", category="Docs", name="Pricing", properties={"path": "/pricing"})),
    ]
    plain.flush()
    events_process_pending()
    anonymous_id = api.profile_id(anonymous_id="anon-77")
    known_id = api.profile_id(user_id="u-77")
    assert anonymous_id != known_id  # two profiles until alias says they are one person

    messages.append(sent(plain.alias(previous_id="anon-77", user_id="u-77")))
    plain.shutdown()

    zipped = segment_client(live_server, write_key, errors, gzip=True)
    for i in range(BATCH_SIZE):
        messages.append(
            sent(zipped.track(user_id="u-77", event="Item Added", properties={"i": i, "tags": ["a", "ü"]}))
        )
    zipped.shutdown()
    assert errors == []
    events_process_pending()

    # alias merged the anonymous and the known profile: every id leads to one survivor.
    survivor = api.profile_id(user_id="u-77")
    assert api.profile_id(anonymous_id="anon-77") == survivor
    assert api.profile_id(email="mia@example.com") == survivor
    merged_id = ({anonymous_id, known_id} - {survivor}).pop()
    merged = api.get(f"/api/profiles/{merged_id}/")
    assert (merged["id"], merged["requested_id"]) == (survivor, merged_id)
    assert merged["traits"]["plan"] == "pro"
    assert merged_id in merged["merged_profile_ids"]

    events = api.events(survivor)
    assert len(events) == len(messages) == BATCH_SIZE + 4
    by_id = {e["message_id"]: e for e in events}
    for message in messages:
        event = by_id[message["messageId"]]
        assert event["type"] == message["type"]
        assert event["user_id"] == (message.get("userId") or "")
        assert event["source"] == "python-server"
        assert event["context"]["library"]["name"] == "analytics-python"
        if message["type"] == "track":
            assert (event["name"], event["properties"]) == (message["event"], message["properties"])
        elif message["type"] == "page":
            assert (event["name"], event["properties"]) == ("Pricing", {"path": "/pricing"})
        elif message["type"] == "identify":
            assert event["traits"] == message["traits"]
        elif message["type"] == "alias":
            assert event["previous_id"] == "anon-77"
    assert sorted(e["properties"]["i"] for e in events if e["name"] == "Item Added") == list(
        range(BATCH_SIZE)
    )
    stamps = [(e["timestamp"], e["id"]) for e in events]
    assert stamps == sorted(stamps, reverse=True)
