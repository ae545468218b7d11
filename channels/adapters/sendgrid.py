"""SendGrid v3 Mail Send through the official `sendgrid` SDK (host configurable: EU residency, fakes).

Messages rendered from one variant whose skeletons match share one request: up to 1,000
personalizations, each with its own recipient, subject, headers (List-Unsubscribe), custom_args
(our message id, echoed back by the Event Webhook) and substitutions (its links and values).
SendGrid has no idempotency key; every request carries `voyage_batch` as a custom arg so that
after a crash we can ask the Email Activity API whether the request arrived (`activity_lookup`).
"""

from __future__ import annotations

import hashlib
import urllib.error
from collections.abc import Iterable
from typing import Any

import orjson
import python_http_client
from sendgrid import SendGridAPIClient

from channels.adapters.base import Adapter, Outgoing, ProviderError, SendResult, retry_after_seconds

MAX_PERSONALIZATIONS = 1000
MAX_SUBSTITUTION_BYTES = 10_000


class SendGridAdapter(Adapter):
    provider = "sendgrid"
    channels = ("email",)
    max_batch = MAX_PERSONALIZATIONS

    def _client(self) -> SendGridAPIClient:
        api_key = self.secrets.get("api_key")
        if not api_key:
            raise ProviderError("sendgrid: no api_key configured", retryable=False)
        return SendGridAPIClient(
            api_key=api_key, host=self.options.get("base_url") or "https://api.sendgrid.com"
        )

    def connection_check(self) -> str:
        # GET /v3/scopes lists what the API key may do; sending needs mail.send.
        try:
            response = self._client().client.scopes.get(timeout=self.timeout)
        except python_http_client.exceptions.HTTPError as exc:
            raise ProviderError(
                f"sendgrid: HTTP {exc.status_code}: {_errors_text(exc.body)}", status_code=exc.status_code
            )
        except TimeoutError:
            raise ProviderError(f"sendgrid: no answer within {self.timeout}s (timeout)")
        except urllib.error.URLError as exc:
            raise ProviderError(f"sendgrid: connection failed: {exc.reason}")
        scopes = orjson.loads(response.body or b"{}").get("scopes", [])
        if "mail.send" not in scopes:
            raise ProviderError(
                "sendgrid: the API key works but lacks the mail.send permission", retryable=False
            )
        return f"SendGrid accepted the API key (mail.send allowed; {len(scopes)} permissions)."

    def requests(self, outgoing: list[Outgoing]) -> Iterable[list[Outgoing]]:
        groups: dict[str, list[Outgoing]] = {}
        for item in outgoing:
            subs_size = sum(len(k) + len(v) for k, v in _used_substitutions(item).items())
            if subs_size > MAX_SUBSTITUTION_BYTES:
                key = f"solo:{item.message_id}"
            elif item.rendered.batch_key:
                key = item.rendered.batch_key
            else:
                sk = item.rendered.skeleton
                digest = hashlib.blake2s(
                    orjson.dumps([item.rendered.variant_id, sk.get("html", ""), sk.get("text", "")])
                ).hexdigest()
                key = f"skeleton:{digest}"
            groups.setdefault(key, []).append(item)
        for group in groups.values():
            for start in range(0, len(group), MAX_PERSONALIZATIONS):
                yield group[start : start + MAX_PERSONALIZATIONS]

    def build_payload(self, group: list[Outgoing]) -> dict[str, Any]:
        first = group[0]
        solo = len(group) == 1
        source = first.rendered.content if solo else first.rendered.skeleton
        personalizations = []
        for item in group:
            p: dict[str, Any] = {
                "to": [{"email": item.to}],
                "subject": item.rendered.content.get("subject") or "(no subject)",
                "custom_args": {"voyage_message_id": str(item.message_id)},
            }
            if item.rendered.headers:
                p["headers"] = item.rendered.headers
            if not solo:
                subs = _used_substitutions(item)
                if subs:
                    p["substitutions"] = subs
            personalizations.append(p)
        content = []
        if source.get("text"):
            content.append({"type": "text/plain", "value": source["text"]})
        if source.get("html"):
            content.append({"type": "text/html", "value": source["html"]})
        sender: dict[str, str] = {"email": self.options.get("from_email") or "noreply@example.com"}
        if self.options.get("from_name"):
            sender["name"] = self.options["from_name"]
        payload: dict[str, Any] = {
            "personalizations": personalizations,
            "from": sender,
            "content": content,
            "custom_args": {"voyage_batch": first.request_key},
            # Opens and clicks are counted by our own pixel and redirect, with any provider.
            "tracking_settings": {"click_tracking": {"enable": False}, "open_tracking": {"enable": False}},
        }
        if self.options.get("reply_to"):
            payload["reply_to"] = {"email": self.options["reply_to"]}
        return payload

    def post(self, payload: dict[str, Any], group: list[Outgoing]) -> Any:
        try:
            return self._client().client.mail.send.post(request_body=payload, timeout=self.timeout)
        except python_http_client.exceptions.HTTPError as exc:
            headers = exc.headers or {}
            retry_after = retry_after_seconds(headers.get("Retry-After"))
            if retry_after is None and exc.status_code == 429 and headers.get("X-RateLimit-Reset"):
                import time

                retry_after = max(0.0, float(headers["X-RateLimit-Reset"]) - time.time())
            raise ProviderError(
                f"sendgrid: HTTP {exc.status_code}: {_errors_text(exc.body)}",
                status_code=exc.status_code,
                retry_after=retry_after,
            )
        except TimeoutError:
            raise ProviderError(f"sendgrid: no answer within {self.timeout}s (timeout)")
        except urllib.error.URLError as exc:
            raise ProviderError(f"sendgrid: connection failed: {exc.reason}")

    def parse(self, response: Any, group: list[Outgoing]) -> list[SendResult]:
        x_message_id = response.headers.get("X-Message-Id", "") if response.headers else ""
        return [
            SendResult(
                message_id=item.message_id,
                ok=True,
                provider_message_id=x_message_id,
                status_code=response.status_code,
            )
            for item in group
        ]

    def lookup(self, request_keys: list[str]) -> dict[str, str] | None:
        if not self.options.get("activity_lookup"):
            return None
        found: dict[str, str] = {}
        client = self._client().client
        for key in request_keys:
            try:
                response = client.messages.get(
                    query_params={"query": f"unique_args['voyage_batch']=\"{key}\"", "limit": 1},
                    timeout=self.timeout,
                )
            except (python_http_client.exceptions.HTTPError, urllib.error.URLError, TimeoutError) as exc:
                raise ProviderError(f"sendgrid activity lookup failed: {exc}")
            messages = orjson.loads(response.body or b"{}").get("messages") or []
            if messages:
                found[key] = str(messages[0].get("msg_id", "")).split(".")[0]
        return found


def _used_substitutions(item: Outgoing) -> dict[str, str]:
    if item.rendered.batch_key:  # the renderer kept only the substitutions its skeleton uses
        return item.rendered.substitutions
    sk = item.rendered.skeleton
    body = sk.get("html", "") + sk.get("text", "")
    return {k: v for k, v in item.rendered.substitutions.items() if k in body}


def _errors_text(body: Any) -> str:
    try:
        data = orjson.loads(body or b"{}")
        return (
            "; ".join(f"{e.get('field') or 'request'}: {e.get('message')}" for e in data.get("errors", []))
            or str(body)[:300]
        )
    except orjson.JSONDecodeError:
        return str(body)[:300]
