"""A fake Firebase Cloud Messaging HTTP v1 API and Google OAuth token endpoint on 127.0.0.1.

POST /token: the service-account JWT-bearer grant (RS256 assertion, verified with the account's
public key) → {"access_token", "expires_in", "token_type"}.
POST /v1/projects/{project}/messages:send with `Authorization: Bearer` → {"name": "projects/…/messages/…"};
tokens in `unregistered` → 404 with FcmError UNREGISTERED, as FCM answers for uninstalled apps.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.fakes.sendgrid import Injected


class FakeFcm:
    def __init__(self, *, project_id: str = "voyage-test", delay: float = 0.0) -> None:
        self.project_id = project_id
        self.delay = delay
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        self.public_key = key.public_key()
        self.client_email = f"voyage@{project_id}.iam.gserviceaccount.com"
        self.access_tokens: set[str] = set()
        self.messages: list[dict[str, Any]] = []
        self.unregistered: set[str] = set()
        self.injected: list[Injected] = []
        self.lock = threading.Lock()
        self.url = ""

    def service_account(self) -> dict[str, str]:
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "client_email": self.client_email,
            "private_key": self.private_key_pem,
            "token_uri": f"{self.url}/token",
        }

    def fail_next(self, status: int, *, times: int = 1, retry_after: float | None = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self.injected.extend(Injected(status, headers) for _ in range(times))

    def __enter__(self) -> FakeFcm:
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()

    def app(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        if request.method == "POST" and request.path == "/token":
            response = self.token(request)
        elif request.method == "POST" and request.path == f"/v1/projects/{self.project_id}/messages:send":
            response = self.send(request)
        else:
            response = _error(404, "NOT_FOUND", "not found")
        return response(environ, start_response)

    def token(self, request: Request) -> Response:
        if request.form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return Response(orjson.dumps({"error": "unsupported_grant_type"}), status=400)
        try:
            claims = jwt.decode(
                request.form.get("assertion", ""),
                self.public_key,
                algorithms=["RS256"],
                audience=f"{self.url}/token",
            )
        except jwt.PyJWTError as exc:
            return Response(
                orjson.dumps({"error": "invalid_grant", "error_description": str(exc)}), status=400
            )
        if claims.get("iss") != self.client_email:
            return Response(orjson.dumps({"error": "invalid_grant"}), status=400)
        token = "ya29." + secrets.token_urlsafe(24)
        self.access_tokens.add(token)
        return Response(
            orjson.dumps({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}),
            status=200,
            content_type="application/json",
        )

    def send(self, request: Request) -> Response:
        auth = request.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in self.access_tokens:
            return _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        body = orjson.loads(request.get_data())
        message = body.get("message") or {}
        if not message.get("token"):
            return _error(
                400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token"
            )
        if message["token"] in self.unregistered:
            return _error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
        with self.lock:
            injected = self.injected.pop(0) if self.injected else None
            if injected is None:
                self.messages.append(message)
        if injected is not None:
            return _error(injected.status or 503, "UNAVAILABLE", "injected failure", None, injected.headers)
        if self.delay:
            time.sleep(self.delay)
        name = f"projects/{self.project_id}/messages/0:{int(time.time() * 1000)}%{secrets.token_hex(8)}"
        return Response(orjson.dumps({"name": name}), status=200, content_type="application/json")


def _error(
    status: int, code: str, message: str, fcm_code: str | None = None, headers: dict | None = None
) -> Response:
    error: dict[str, Any] = {"code": status, "message": message, "status": code}
    if fcm_code:
        error["details"] = [
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcm_code}
        ]
    return Response(
        orjson.dumps({"error": error}), status=status, headers=headers or {}, content_type="application/json"
    )
