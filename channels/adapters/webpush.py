"""Web Push with VAPID through pywebpush. The contact point's address is the browser's
subscription JSON ({"endpoint": …, "keys": {"p256dh": …, "auth": …}}); the endpoint is the URL.

Secrets: `vapid_private_key`; options: `vapid_subject` (mailto: or https:), `ttl`.
404/410 from the push service mean the subscription is gone: the contact point is retired.
"""

from __future__ import annotations

from typing import Any

import orjson
import requests
from pywebpush import WebPushException, webpush

from channels.adapters.base import Adapter, Outgoing, ProviderError, SendResult, retry_after_seconds


class WebPushAdapter(Adapter):
    provider = "webpush"
    channels = ("webpush",)

    def connection_check(self) -> str:
        # Web Push has no account to call: each browser's push service is reached per subscription.
        # What can be checked is that the VAPID private key is one.
        from py_vapid import Vapid

        key = self.secrets.get("vapid_private_key")
        if not key:
            raise ProviderError("webpush: vapid_private_key required", retryable=False)
        try:
            Vapid.from_string(private_key=key)
        except Exception as exc:  # py_vapid raises bare ValueErrors and base64/cryptography errors
            raise ProviderError(f"webpush: the VAPID private key does not load: {exc}", retryable=False)
        return "The VAPID private key is valid (Web Push has no provider account to call)."

    def build_payload(self, group: list[Outgoing]) -> dict[str, Any]:
        item = group[0]
        try:
            subscription = orjson.loads(item.to)
        except orjson.JSONDecodeError:
            raise ProviderError(
                "webpush: the contact point is not a subscription JSON", retryable=False, invalid_address=True
            )
        content = item.rendered.content
        data = {k: content[k] for k in ("title", "body", "image", "deep_link") if content.get(k)}
        data["voyage_message_id"] = item.message_id
        return {"subscription": subscription, "data": orjson.dumps(data).decode()}

    def post(self, payload: dict[str, Any], group: list[Outgoing]) -> Any:
        key = self.secrets.get("vapid_private_key")
        if not key:
            raise ProviderError("webpush: vapid_private_key required", retryable=False)
        try:
            return webpush(
                payload["subscription"],
                data=payload["data"],
                vapid_private_key=key,
                vapid_claims={"sub": self.options.get("vapid_subject") or "mailto:ops@example.com"},
                timeout=self.timeout,
                ttl=int(self.options.get("ttl", 86400)),
            )
        except WebPushException as exc:
            response = exc.response
            status = response.status_code if response is not None else None
            raise ProviderError(
                f"webpush: HTTP {status}: {(response.text[:200] if response is not None else str(exc))}",
                status_code=status,
                retry_after=retry_after_seconds(response.headers.get("Retry-After"))
                if response is not None
                else None,
                invalid_address=status in (404, 410),
            )
        except requests.Timeout:
            raise ProviderError(f"webpush: no answer within {self.timeout}s (timeout)")
        except requests.ConnectionError as exc:
            raise ProviderError(f"webpush: connection failed: {type(exc).__name__}")

    def parse(self, response: Any, group: list[Outgoing]) -> list[SendResult]:
        return [
            SendResult(
                message_id=group[0].message_id,
                ok=True,
                provider_message_id=response.headers.get("Location", ""),
                status_code=response.status_code,
            )
        ]
