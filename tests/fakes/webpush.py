"""A fake Web Push service (RFC 8030 push endpoint, RFC 8291 encryption, RFC 8292 VAPID) on 127.0.0.1.

`subscribe()` creates a browser-like subscription (P-256 key pair + auth secret) whose endpoint is
POST /push/{id}. The fake checks the VAPID Authorization header (`vapid t=<ES256 JWT>, k=<key>`,
audience = this origin), decrypts the aes128gcm payload with the subscription's private key, and
answers 201 with a Location header; subscriptions in `gone` answer 410 like an unsubscribed browser.
"""

from __future__ import annotations

import base64
import os
import secrets
import threading
from typing import Any

import http_ece
import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.fakes.sendgrid import Injected


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FakeWebPush:
    def __init__(self) -> None:
        self.keys: dict[str, tuple[ec.EllipticCurvePrivateKey, bytes]] = {}
        self.gone: set[str] = set()
        self.received: list[dict[str, Any]] = []
        self.injected: list[Injected] = []
        self.lock = threading.Lock()
        self.url = ""

    def subscribe(self) -> dict[str, Any]:
        sub_id = secrets.token_hex(8)
        private = ec.generate_private_key(ec.SECP256R1())
        auth = os.urandom(16)
        self.keys[sub_id] = (private, auth)
        public = private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"endpoint": f"{self.url}/push/{sub_id}", "keys": {"p256dh": _b64(public), "auth": _b64(auth)}}

    def fail_next(self, status: int, *, times: int = 1, retry_after: float | None = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self.injected.extend(Injected(status, headers) for _ in range(times))

    def __enter__(self) -> FakeWebPush:
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()

    def app(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        sub_id = request.path.removeprefix("/push/")
        if request.method != "POST" or sub_id not in self.keys:
            return Response(b"", status=404)(environ, start_response)
        if sub_id in self.gone:
            return Response(b"push subscription has unsubscribed or expired.", status=410)(
                environ, start_response
            )
        problem = self._vapid_problem(request.headers.get("Authorization", ""))
        if problem:
            return Response(problem.encode(), status=401)(environ, start_response)
        with self.lock:
            injected = self.injected.pop(0) if self.injected else None
        if injected is not None:
            return Response(b"injected", status=injected.status or 503, headers=injected.headers)(
                environ, start_response
            )
        private, auth = self.keys[sub_id]
        payload = http_ece.decrypt(
            request.get_data(), private_key=private, auth_secret=auth, version="aes128gcm"
        )
        with self.lock:
            self.received.append(
                {"subscription": sub_id, "ttl": request.headers.get("TTL"), "data": orjson.loads(payload)}
            )
        location = f"{self.url}/message/{secrets.token_hex(8)}"
        return Response(b"", status=201, headers={"Location": location})(environ, start_response)

    def _vapid_problem(self, header: str) -> str:
        if not header.startswith("vapid "):
            return "missing VAPID authorization"
        parts = dict(p.strip().split("=", 1) for p in header[6:].split(","))
        try:
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64(parts["k"]))
            jwt.decode(parts["t"], key, algorithms=["ES256"], audience=self.url)
        except (KeyError, ValueError, jwt.PyJWTError) as exc:
            return f"bad VAPID token: {exc}"
        return ""
