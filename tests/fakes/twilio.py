"""A fake Twilio REST API (2010-04-01 Messages) on 127.0.0.1, speaking the real wire format.

POST /2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded, HTTP Basic auth with the
account SID and auth token; answers 201 with the Message resource JSON, or Twilio's error JSON
({"code", "message", "more_info", "status"}). Numbers in `invalid_numbers` get error 21211,
numbers in `opted_out` get 21610. Failure injection like the other fakes.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections import Counter
from email.utils import formatdate
from typing import Any

import orjson
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.fakes.sendgrid import Injected


class FakeTwilio:
    def __init__(
        self, *, account_sid: str = "AC" + "1" * 32, auth_token: str = "fake-auth-token", delay: float = 0.0
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.delay = delay
        self.messages: list[dict[str, Any]] = []
        self.injected: list[Injected] = []
        self.invalid_numbers: set[str] = set()
        self.opted_out: set[str] = set()
        self.lock = threading.Lock()
        self.url = ""
        # hold_at(k): the k-th accepted message is recorded, then its answer is held back until
        # `release` is set — a request in flight, for killing the sender at a known point.
        self.hold_at_count: int | None = None
        self.garbage = 0
        self.nul_sids = 0
        self.holding = threading.Event()
        self.release = threading.Event()

    def garbage_next(self, *, times: int = 1) -> None:
        """Answer 201 with a body that is not JSON (a broken proxy): the SDK cannot parse it."""
        self.garbage += times

    def nul_sid_next(self, *, times: int = 1) -> None:
        """Accept the message but answer with a sid holding a NUL character: valid JSON that
        PostgreSQL cannot store (the result cannot be recorded)."""
        self.nul_sids += times

    def hold_at(self, k: int) -> None:
        self.hold_at_count = k

    def fail_next(self, status: int, *, times: int = 1, retry_after: float | None = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self.injected.extend(Injected(status, headers) for _ in range(times))

    def timeout_next(self, *, times: int = 1, seconds: float = 3.0) -> None:
        self.injected.extend(Injected(None, seconds=seconds) for _ in range(times))

    def count_by_to(self) -> Counter:
        return Counter(m["To"] for m in self.messages)

    def __enter__(self) -> FakeTwilio:
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release.set()
        self.server.shutdown()

    def app(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        path = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if request.headers.get("Authorization") != expected:
            response = _error(401, 20003, "Authenticate")
        elif request.method == "POST" and request.path == path:
            response = self.create(request)
        elif request.method == "GET" and request.path == f"/2010-04-01/Accounts/{self.account_sid}.json":
            response = self.account()
        else:
            response = _error(404, 20404, "The requested resource was not found")
        return response(environ, start_response)

    def account(self) -> Response:
        """GET /2010-04-01/Accounts/{Sid}.json, as the "test connection" asks."""
        now = formatdate(usegmt=True)
        resource = {
            "sid": self.account_sid,
            "friendly_name": "Voyage test account",
            "status": "active",
            "type": "Full",
            "date_created": now,
            "date_updated": now,
            "owner_account_sid": self.account_sid,
            "auth_token": self.auth_token,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}.json",
            "subresource_uris": {},
        }
        return Response(orjson.dumps(resource), status=200, content_type="application/json")

    def create(self, request: Request) -> Response:
        form = request.form
        to = form.get("To", "")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return _error(400, 21603, "A 'From' phone number is required.")
        if not form.get("Body"):
            return _error(400, 21602, "Message body is required.")
        number = to.removeprefix("whatsapp:")
        if number in self.invalid_numbers:
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if number in self.opted_out:
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        with self.lock:
            injected = self.injected.pop(0) if self.injected else None
            sid = "SM" + secrets.token_hex(16)
            if injected is None and self.nul_sids > 0:
                self.nul_sids -= 1
                sid = "SM\u0000" + secrets.token_hex(15)
            if injected is None:
                self.messages.append({**form.to_dict(), "sid": sid})
            hold = injected is None and len(self.messages) == self.hold_at_count
        if hold:
            self.holding.set()
            self.release.wait(timeout=120)
        with self.lock:
            garbage, self.garbage = self.garbage > 0, max(0, self.garbage - 1)
        if garbage and injected is None:
            return Response(b"<html>502 upstream</html>", status=201, content_type="application/json")
        if injected is not None:
            if injected.status is None:
                time.sleep(injected.seconds)
                return _error(504, 20500, "gateway timeout")
            return _error(
                injected.status,
                20429 if injected.status == 429 else 20500,
                "injected failure",
                injected.headers,
            )
        if self.delay:
            time.sleep(self.delay)
        now = formatdate(usegmt=True)
        resource = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": form["Body"],
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
            },
            "to": to,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        return Response(orjson.dumps(resource), status=201, content_type="application/json")


def _error(status: int, code: int, message: str, headers: dict | None = None) -> Response:
    payload = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return Response(
        orjson.dumps(payload), status=status, headers=headers or {}, content_type="application/json"
    )
