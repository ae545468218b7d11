"""The one adapter interface every provider implements.

A fixed template method (after anymail's backends): group the outgoing messages into requests →
build the payload → post → parse the response into one result per message; any exception on the
way becomes a ProviderError that says whether it is retryable (timeouts, 429 with Retry-After,
5xx) or permanent. Adapters never touch the database: dispatch records what they return.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from channels.rendering import Rendered


@dataclass
class Outgoing:
    """One message ready to hand over: where to, what (already rendered), and its keys."""

    message_id: int
    channel: str
    to: str
    rendered: Rendered
    idempotency_key: str
    attempt: int = 1
    # The id of the provider request this message travels in (SendGrid: one per batch).
    request_key: str = ""


@dataclass
class ResultEvent:
    """A normalised delivery result reported synchronously (sandbox simulations, push responses)."""

    kind: str  # delivered, opened, clicked, bounced, failed, …
    data: dict[str, Any] = field(default_factory=dict)
    seconds_later: float = 0.0


@dataclass
class SendResult:
    message_id: int
    ok: bool
    provider_message_id: str = ""
    status_code: int | None = None
    error: str = ""
    retryable: bool = False
    retry_after: float | None = None
    duration_ms: int = 0
    batch_size: int = 1
    request_id: str = ""
    invalid_address: bool = False  # the token/number is gone for good: retire the contact point
    adapter_error: bool = False  # not the provider's answer: the adapter itself failed (a bug)
    cost: str | None = None
    cost_currency: str = ""
    events: list[ResultEvent] = field(default_factory=list)


class ProviderError(Exception):
    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
        invalid_address: bool = False,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retryable = is_retryable(status_code) if retryable is None else retryable
        self.retry_after = retry_after
        self.invalid_address = invalid_address


def is_retryable(status_code: int | None) -> bool:
    """No answer (timeout, connection), 429 and 5xx are worth another try; other 4xx are not."""
    return status_code is None or status_code == 429 or status_code >= 500


def retry_after_seconds(value: Any) -> float | None:
    """Retry-After as seconds (RFC 9110 allows seconds or an HTTP date)."""
    if value in (None, ""):
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(str(value)).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


class Adapter:
    """Base class. Subclasses set `provider` and implement build_payload / post / parse."""

    provider: ClassVar[str] = ""
    channels: ClassVar[tuple[str, ...]] = ()
    # How many messages one provider request may carry.
    max_batch: ClassVar[int] = 1

    def __init__(self, *, options: dict[str, Any], secrets: dict[str, Any], timeout: float) -> None:
        if not self.provider:
            raise TypeError(f"{type(self).__name__} must name its provider")
        self.options = options
        self.secrets = secrets
        self.timeout = timeout

    def __repr__(self) -> str:  # secrets stay out of logs and tracebacks
        return f"<{type(self).__name__}>"

    # -- the template method -------------------------------------------------------------------
    def send(self, outgoing: list[Outgoing]) -> list[SendResult]:
        return self.send_groups(list(self.requests(outgoing)))

    def send_groups(self, groups: list[list[Outgoing]]) -> list[SendResult]:
        """Send requests already planned with `requests()` (dispatch records the plan first)."""
        results: list[SendResult] = []
        for group in groups:
            started = time.monotonic()
            try:
                payload = self.build_payload(group)
                response = self.post(payload, group)
                group_results = self.parse(response, group)
            except ProviderError as exc:
                group_results = [
                    SendResult(
                        message_id=o.message_id,
                        ok=False,
                        status_code=exc.status_code,
                        error=str(exc)[:2000],
                        retryable=exc.retryable,
                        retry_after=exc.retry_after,
                        invalid_address=exc.invalid_address,
                    )
                    for o in group
                ]
            elapsed = int((time.monotonic() - started) * 1000)
            for result in group_results:
                result.duration_ms = result.duration_ms or elapsed
                result.batch_size = len(group)
                result.request_id = result.request_id or group[0].request_key
            results.extend(group_results)
        return results

    def requests(self, outgoing: list[Outgoing]) -> Iterable[list[Outgoing]]:
        """How messages are split into provider requests; one each unless the provider batches."""
        for item in outgoing:
            yield [item]

    def build_payload(self, group: list[Outgoing]) -> Any:
        raise NotImplementedError

    def post(self, payload: Any, group: list[Outgoing]) -> Any:
        raise NotImplementedError

    def parse(self, response: Any, group: list[Outgoing]) -> list[SendResult]:
        raise NotImplementedError

    # -- the operator's "test connection" ----------------------------------------------------
    def connection_check(self) -> str:
        """Call the provider with the configured credentials without sending anything; return what
        it confirmed, or raise ProviderError saying what failed."""
        raise ProviderError(f"{self.provider}: no connection test for this provider", retryable=False)

    # -- crash recovery ------------------------------------------------------------------------
    def lookup(self, request_keys: list[str]) -> dict[str, str] | None:
        """Which of these requests reached the provider (request key → provider id).

        None means the provider offers no way to ask; dispatch then applies CHANNELS_IN_DOUBT_POLICY.
        """
        return None
