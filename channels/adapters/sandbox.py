"""The sandbox provider: sends nothing, keeps a copy of every message (the demo's mailbox) and
reports realistic results — delivered, or bounced for addresses containing "bounce"; opened by
about 45% and clicked by about a third of those — decided by a hash of the message id, so a demo
replays identically. It is the one adapter that writes rows: its mailbox is the provider's storage.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from channels.adapters.base import Adapter, Outgoing, ResultEvent, SendResult


def _roll(message_id: int, salt: str) -> int:
    return int(hashlib.sha256(f"{salt}:{message_id}".encode()).hexdigest()[:8], 16) % 100


class SandboxAdapter(Adapter):
    provider = "sandbox"
    channels = ("email", "sms", "whatsapp", "push", "webpush")
    max_batch = 1000

    def requests(self, outgoing: list[Outgoing]) -> Any:
        if outgoing:
            yield outgoing

    def build_payload(self, group: list[Outgoing]) -> list[Outgoing]:
        return group

    def post(self, payload: list[Outgoing], group: list[Outgoing]) -> list[Outgoing]:
        from channels.models import SandboxDelivery

        SandboxDelivery.objects.bulk_create(
            [
                SandboxDelivery(
                    message_id=o.message_id,
                    channel=o.channel,
                    to=o.to[:1024],
                    subject=(o.rendered.content.get("subject") or o.rendered.content.get("title") or "")[
                        :500
                    ],
                    body=o.rendered.content.get("html") or o.rendered.content.get("body") or "",
                    headers=o.rendered.headers,
                )
                for o in payload
            ]
        )
        return payload

    def parse(self, response: list[Outgoing], group: list[Outgoing]) -> list[SendResult]:
        results = []
        for item in response:
            events: list[ResultEvent] = []
            if "bounce" in item.to.lower():
                events.append(
                    ResultEvent(
                        "bounced", {"type": "bounce", "reason": "550 5.1.1 mailbox unknown (sandbox)"}
                    )
                )
            else:
                events.append(ResultEvent("delivered", {"simulated": True}, seconds_later=2))
                if _roll(item.message_id, "open") < 45 and item.channel in ("email", "push", "webpush"):
                    events.append(ResultEvent("opened", {"simulated": True}, seconds_later=600))
                    if _roll(item.message_id, "click") < 33:
                        events.append(ResultEvent("clicked", {"simulated": True}, seconds_later=640))
                elif item.channel in ("sms", "whatsapp") and _roll(item.message_id, "click") < 10:
                    events.append(ResultEvent("clicked", {"simulated": True}, seconds_later=300))
            results.append(
                SendResult(
                    message_id=item.message_id,
                    ok=True,
                    provider_message_id=f"sandbox-{uuid.uuid4().hex[:16]}",
                    status_code=202,
                    events=events,
                )
            )
        return results

    def connection_check(self) -> str:
        return "The sandbox sends nothing out: it records messages and simulates their results."

    def lookup(self, request_keys: list[str]) -> dict[str, str] | None:
        return {}  # the sandbox's mailbox is in our own transaction: a crashed call left nothing behind
