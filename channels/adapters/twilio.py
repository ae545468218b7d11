"""Twilio Programmable Messaging (SMS and WhatsApp) through the official `twilio` SDK.

The SDK builds https://api.twilio.com/2010-04-01/... URLs; its region/edge options only choose
other *.twilio.com hosts, so a configurable base URL (tests, proxies) is a small HttpClient that
rewrites the host and remembers the last response's headers (for Retry-After).
Twilio has no idempotency key for Messages; after a crash CHANNELS_IN_DOUBT_POLICY applies.
"""

from __future__ import annotations

from typing import Any

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from channels.adapters.base import Adapter, Outgoing, ProviderError, SendResult, retry_after_seconds

TWILIO_API = "https://api.twilio.com"
# Error codes that mean this number will never take a message (retire it / suppress it).
INVALID_NUMBER_CODES = {21211, 21614, 21408, 63003}
OPTED_OUT_CODES = {21610}


class BaseUrlHttpClient(TwilioHttpClient):
    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")
        self.last_headers: dict[str, str] = {}

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if self.base_url and url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        response = super().request(method, url, *args, **kwargs)
        self.last_headers = dict(response.headers or {})
        return response


class TwilioAdapter(Adapter):
    provider = "twilio"
    channels = ("sms", "whatsapp")

    def _client(self) -> tuple[Client, BaseUrlHttpClient]:
        sid, token = self.secrets.get("account_sid"), self.secrets.get("auth_token")
        if not sid or not token:
            raise ProviderError("twilio: account_sid and auth_token are required", retryable=False)
        http = BaseUrlHttpClient(self.options.get("base_url") or "", self.timeout)
        return Client(sid, token, http_client=http), http

    def connection_check(self) -> str:
        # GET /2010-04-01/Accounts/{sid}.json: the credentials work and the account can send.
        client, _ = self._client()
        try:
            account = client.api.v2010.accounts(self.secrets["account_sid"]).fetch()
        except TwilioRestException as exc:
            raise ProviderError(
                f"twilio: HTTP {exc.status} error {exc.code}: {exc.msg}", status_code=exc.status
            )
        except requests.Timeout:
            raise ProviderError(f"twilio: no answer within {self.timeout}s (timeout)")
        except requests.ConnectionError as exc:
            raise ProviderError(f"twilio: connection failed: {type(exc).__name__}")
        if account.status != "active":
            raise ProviderError(f"twilio: the account is {account.status}, not active", retryable=False)
        return f"Twilio accepted the credentials (account {account.friendly_name!r}, active)."

    def build_payload(self, group: list[Outgoing]) -> dict[str, Any]:
        item = group[0]
        whatsapp = item.channel == "whatsapp"
        sender = self.options.get("whatsapp_from" if whatsapp else "from_number") or ""
        payload: dict[str, Any] = {
            "to": f"whatsapp:{item.to}" if whatsapp else item.to,
            "body": item.rendered.content.get("body", ""),
        }
        if self.options.get("messaging_service_sid") and not whatsapp:
            payload["messaging_service_sid"] = self.options["messaging_service_sid"]
        else:
            payload["from_"] = (
                f"whatsapp:{sender}" if whatsapp and not sender.startswith("whatsapp:") else sender
            )
        if self.options.get("status_callback", True):
            payload["status_callback"] = f"{settings.PUBLIC_BASE_URL.rstrip('/')}/webhooks/twilio/status/"
        return payload

    def post(self, payload: dict[str, Any], group: list[Outgoing]) -> Any:
        client, http = self._client()
        try:
            return client.messages.create(**payload)
        except TwilioRestException as exc:
            raise ProviderError(
                f"twilio: HTTP {exc.status} error {exc.code}: {exc.msg}",
                status_code=exc.status,
                retry_after=retry_after_seconds(http.last_headers.get("Retry-After")),
                invalid_address=exc.code in INVALID_NUMBER_CODES,
                retryable=None if exc.code not in OPTED_OUT_CODES else False,
            )
        except requests.Timeout:
            raise ProviderError(f"twilio: no answer within {self.timeout}s (timeout)")
        except requests.ConnectionError as exc:
            raise ProviderError(f"twilio: connection failed: {type(exc).__name__}")

    def parse(self, response: Any, group: list[Outgoing]) -> list[SendResult]:
        price = getattr(response, "price", None)
        return [
            SendResult(
                message_id=group[0].message_id,
                ok=True,
                provider_message_id=response.sid,
                status_code=201,
                cost=str(abs(float(price))) if price not in (None, "") else None,
                cost_currency=(getattr(response, "price_unit", "") or "").upper() if price else "",
            )
        ]
