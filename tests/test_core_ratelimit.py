"""core.ratelimit: one token bucket for API requests (all or nothing), provider sends (partial) and
partner deliveries, with the fail-open decision made by the caller."""

from __future__ import annotations

import socket

import pytest

from core import ratelimit
from core.ratelimit import CLOSED_WAIT_SECONDS, Grant, rate_take


@pytest.fixture(params=["redis", "memory"])
def backend(request, settings):
    """The same behaviour in Redis (shared by workers) and in process memory (no Redis)."""
    if request.param == "memory":
        settings.REDIS_URL = ""
        ratelimit._local.clear()
    else:
        import redis

        redis.Redis.from_url(settings.REDIS_URL).delete(*[f"voyage:ratelimit:{k}" for k in ("a", "b", "c")])
    return request.param


def test_partial_takes_what_is_there_and_says_how_long_the_rest_waits(backend):
    grant = rate_take(key="a", wanted=8, rate=5, burst=5, fail_open=False, now=1000.0)
    assert grant.granted == 5
    assert grant.wait == pytest.approx(3 / 5)
    assert rate_take(key="a", wanted=1, rate=5, burst=5, fail_open=False, now=1000.0).granted == 0
    # The caller's clock moves one second: five tokens again, never more than the burst.
    assert rate_take(key="a", wanted=9, rate=5, burst=5, fail_open=False, now=1001.0).granted == 5
    assert rate_take(key="a", wanted=9, rate=5, burst=5, fail_open=False, now=1100.0).granted == 5


def test_all_or_nothing_takes_nothing_when_it_cannot_take_everything(backend):
    assert rate_take(key="b", wanted=3, rate=4, partial=False, fail_open=True, now=50.0) == Grant(3, 0.0)
    refused = rate_take(key="b", wanted=2, rate=4, partial=False, fail_open=True, now=50.0)
    assert refused.granted == 0 and refused.wait == pytest.approx(1 / 4)
    # Nothing was taken by the refusal: the one token left is still there.
    assert rate_take(key="b", wanted=1, rate=4, partial=False, fail_open=True, now=50.0).granted == 1


def test_a_clock_going_backwards_refills_nothing(backend):
    assert rate_take(key="c", wanted=2, rate=2, fail_open=False, now=500.0).granted == 2
    assert rate_take(key="c", wanted=2, rate=2, fail_open=False, now=499.0).granted == 0


def test_no_rate_means_no_limit(backend):
    assert rate_take(key="a", wanted=10**6, rate=None, fail_open=False) == Grant(10**6, 0.0)
    assert rate_take(key="a", wanted=7, rate=0, fail_open=False) == Grant(7, 0.0)


def test_an_unreachable_counter_fails_open_or_closed_as_the_caller_says(settings, caplog):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"  # nothing listens there
    assert rate_take(key="a", wanted=3, rate=1, fail_open=True) == Grant(3, 0.0)
    assert rate_take(key="a", wanted=3, rate=1, fail_open=False) == Grant(0, CLOSED_WAIT_SECONDS)
    assert "letting it through" in caplog.text and "holding back" in caplog.text
