"""Standard Webhooks signing (https://www.standardwebhooks.com/): secrets, ids and headers.

The HMAC itself is the `standardwebhooks` library's `Webhook.sign`, the same code partners verify with.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"


def secret_generate() -> str:
    """A new signing secret: 32 random bytes, "whsec_" + base64, the format the spec and its libraries use."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def webhook_id_for(*, endpoint_id: int, idempotency_key: str) -> str:
    """The webhook-id partners dedupe on: stable for one event and one endpoint, across retries and replays."""
    digest = hashlib.sha256(f"{endpoint_id}\x00{idempotency_key}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def signature_header(*, secrets_: list[str], webhook_id: str, timestamp: int, body: str) -> str:
    """`v1,<sig>` for each secret, space-separated (two during a secret rotation)."""
    at = datetime.fromtimestamp(timestamp, tz=UTC)
    return " ".join(Webhook(secret).sign(webhook_id, at, body) for secret in secrets_)


def headers_build(*, secrets_: list[str], webhook_id: str, timestamp: int, body: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": "Voyage-Webhooks/1.0",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            secrets_=secrets_, webhook_id=webhook_id, timestamp=timestamp, body=body
        ),
    }
