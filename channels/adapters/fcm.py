"""Firebase Cloud Messaging HTTP v1: a service-account JWT exchanged for an OAuth token, then
POST {base_url}/v1/projects/{project}/messages:send. Base URL and token URI are configurable.

Secrets: `service_account` (the JSON key file's content). UNREGISTERED tokens are retired.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
import orjson
import requests

from channels.adapters.base import Adapter, Outgoing, ProviderError, SendResult, retry_after_seconds

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
_tokens: dict[str, tuple[str, float]] = {}  # client_email → (access token, expiry), per process


class FcmAdapter(Adapter):
    provider = "fcm"
    channels = ("push",)

    def _account(self) -> dict[str, Any]:
        account = self.secrets.get("service_account")
        if isinstance(account, str):
            account = orjson.loads(account)
        if not account or not account.get("private_key") or not account.get("client_email"):
            raise ProviderError(
                "fcm: service_account with client_email and private_key required", retryable=False
            )
        return account

    def _access_token(self, session: requests.Session) -> str:
        account = self._account()
        token_uri = (
            self.options.get("token_uri") or account.get("token_uri") or "https://oauth2.googleapis.com/token"
        )
        cache_key = f"{token_uri}|{account['client_email']}"
        cached = _tokens.get(cache_key)
        if cached and cached[1] > time.time() + 60:
            return cached[0]
        token_uri = (
            self.options.get("token_uri") or account.get("token_uri") or "https://oauth2.googleapis.com/token"
        )
        now = int(time.time())
        assertion = jwt.encode(
            {"iss": account["client_email"], "scope": SCOPE, "aud": token_uri, "iat": now, "exp": now + 3600},
            account["private_key"],
            algorithm="RS256",
        )
        try:
            response = session.post(
                token_uri,
                data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise ProviderError(f"fcm: token exchange failed: {type(exc).__name__}")
        if response.status_code != 200:
            raise ProviderError(
                f"fcm: token exchange HTTP {response.status_code}", status_code=response.status_code
            )
        body = response.json()
        _tokens[account["client_email"]] = (
            body["access_token"],
            time.time() + float(body.get("expires_in", 3600)),
        )
        return body["access_token"]

    def connection_check(self) -> str:
        # The service account's key is exchanged for an access token: the account and key are real.
        _tokens.clear()
        with requests.Session() as session:
            self._access_token(session)
        project = self.options.get("project_id") or self._account().get("project_id")
        if not project:
            raise ProviderError(
                "fcm: no project_id (set it in the options or the service account)", retryable=False
            )
        return f"Google issued an access token for {self._account()['client_email']} (project {project})."

    def build_payload(self, group: list[Outgoing]) -> dict[str, Any]:
        item = group[0]
        content = item.rendered.content
        notification = {k: content[k] for k in ("title", "body", "image") if content.get(k)}
        data = {"voyage_message_id": str(item.message_id)}
        if content.get("deep_link"):
            data["deep_link"] = content["deep_link"]
        return {"message": {"token": item.to, "notification": notification, "data": data}}

    def post(self, payload: dict[str, Any], group: list[Outgoing]) -> Any:
        project = self.options.get("project_id") or self._account().get("project_id")
        base = (self.options.get("base_url") or "https://fcm.googleapis.com").rstrip("/")
        with requests.Session() as session:
            token = self._access_token(session)
            try:
                response = session.post(
                    f"{base}/v1/projects/{project}/messages:send",
                    json=payload,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=self.timeout,
                )
            except requests.Timeout:
                raise ProviderError(f"fcm: no answer within {self.timeout}s (timeout)")
            except requests.ConnectionError as exc:
                raise ProviderError(f"fcm: connection failed: {type(exc).__name__}")
        if response.status_code == 401:
            _tokens.clear()  # the token was revoked or expired early: the next attempt fetches a new one
            raise ProviderError("fcm: HTTP 401: access token refused", status_code=401, retryable=True)
        if response.status_code >= 400:
            error = _error(response)
            code = error.get("errorCode") or error.get("status") or ""
            raise ProviderError(
                f"fcm: HTTP {response.status_code} {code}: {error.get('message', '')}",
                status_code=response.status_code,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
                invalid_address=code == "UNREGISTERED",
            )
        return response

    def parse(self, response: Any, group: list[Outgoing]) -> list[SendResult]:
        return [
            SendResult(
                message_id=group[0].message_id,
                ok=True,
                provider_message_id=response.json().get("name", ""),
                status_code=response.status_code,
            )
        ]


def _error(response: requests.Response) -> dict[str, Any]:
    try:
        error = response.json().get("error") or {}
    except ValueError:
        return {"message": response.text[:300]}
    for detail in error.get("details") or []:
        if detail.get("errorCode"):
            return {**error, "errorCode": detail["errorCode"]}
    return error
