"""A fake partner: a real HTTP server on 127.0.0.1 that receives Voyage's webhooks the way a partner would.

It verifies every request with the `standardwebhooks` library (the partner's side of the spec) and
answers 401 when verification fails. Tests script its answers: `fake.reply(500)`,
`fake.reply(429, headers={"Retry-After": "120"})`, `fake.reply(410)`, `fake.reply(200, delay=2)`
(slower than the sender's read timeout). Unscripted requests get 200 when the signature verifies.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"ok":true}'
    delay: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    verify_error: str
    payload: Any
    answered: int


class FakePartner:
    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret  # the secret the partner configured; None: accept without verifying
        self.received: list[Received] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hooks/voyage"

    def reply(
        self, status: int = 200, *, headers: dict[str, str] | None = None, delay: float = 0.0, times: int = 1
    ) -> None:
        """Answer the next `times` requests like this (after verification)."""
        with self._lock:
            for _ in range(times):
                self._script.append(Reply(status=status, headers=headers or {}, delay=delay))

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.time() + timeout
        while time.time() < deadline and len(self.received) < count:
            time.sleep(0.05)
        return list(self.received)

    def start(self) -> FakePartner:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _verify(self, body: bytes, headers: dict[str, str]) -> tuple[bool, str, Any]:
        if self.secret is None:
            return True, "", json.loads(body or b"null")
        try:
            return True, "", Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError as exc:
            return False, str(exc), None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified, error, payload = fake._verify(body, headers)
                with fake._lock:
                    scripted = fake._script.popleft() if fake._script else None
                reply = scripted or Reply()
                if not verified and scripted is None:
                    reply = Reply(status=401, body=json.dumps({"error": error}).encode())
                if reply.delay:
                    time.sleep(reply.delay)
                with fake._lock:
                    fake.received.append(
                        Received(self.path, headers, body, verified, error, payload, reply.status)
                    )
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up (timeout): that is the point of a slow reply

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@contextmanager
def fake_partner(secret: str | None = None) -> Iterator[FakePartner]:
    fake = FakePartner(secret).start()
    try:
        yield fake
    finally:
        fake.stop()


def endpoint_subscribe(fake: FakePartner, *, event_types: list[str] | None = None, **kwargs: Any):
    """Onboard the fake as a Voyage endpoint: create it and hand its one-time secret to the partner."""
    from channels.partner.services import endpoint_create

    endpoint, secret = endpoint_create(url=fake.url, event_types=event_types or ["*"], **kwargs)
    fake.secret = secret
    return endpoint
