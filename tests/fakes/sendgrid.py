"""A fake SendGrid v3 API on 127.0.0.1, speaking the real wire format.

- POST /v3/mail/send: Bearer auth; validates personalizations (1..1000, each with `to`), `from`,
  content; answers 202 with an empty body and an X-Message-Id header, like SendGrid. Each recipient
  is recorded with substitutions applied (what the person would receive).
- GET /v3/scopes: the API key's permissions (`scopes`), as the "test connection" asks.
- GET /v3/messages?query=unique_args['voyage_batch']="…": the Email Activity API, enough to tell
  whether a request arrived.
- Failure injection: `fail_next(status, retry_after=…)`, `timeout_next()`; a fixed `delay` per answer.
Requests are recorded on receipt, before any delay, as a provider would have them.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class Injected:
    status: int | None  # None: no answer (the client times out)
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


class FakeSendGrid:
    def __init__(
        self, *, api_key: str = "SG.fake-key", delay: float = 0.0, keep_content: bool = True
    ) -> None:
        self.api_key = api_key
        self.delay = delay
        # Benchmarks only need to know who got what once; tests look at the content too.
        self.keep_content = keep_content
        self.requests: list[dict[str, Any]] = []
        self.emails: list[dict[str, Any]] = []
        self.injected: list[Injected] = []
        self.lock = threading.Lock()
        self.url = ""
        # GET /v3/scopes: what the API key may do (a key without mail.send cannot send).
        self.scopes = ["mail.send", "messages.read", "scopes.read"]

    # -- control ------------------------------------------------------------------------------
    def fail_next(self, status: int, *, times: int = 1, retry_after: float | None = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self.injected.extend(Injected(status, headers) for _ in range(times))

    def timeout_next(self, *, times: int = 1, seconds: float = 3.0) -> None:
        self.injected.extend(Injected(None, seconds=seconds) for _ in range(times))

    def count_by_message(self) -> Counter:
        return Counter(e["custom_args"].get("voyage_message_id") for e in self.emails)

    # -- server -------------------------------------------------------------------------------
    def __enter__(self) -> FakeSendGrid:
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()

    def app(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        if request.path == "/_stats":
            return self.stats()(environ, start_response)
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            response = _errors(401, "The provided authorization grant is invalid, expired, or revoked", None)
        elif request.method == "POST" and request.path == "/v3/mail/send":
            response = self.mail_send(request)
        elif request.method == "GET" and request.path == "/v3/messages":
            response = self.activity(request)
        elif request.method == "GET" and request.path == "/v3/scopes":
            response = Response(
                orjson.dumps({"scopes": self.scopes}), status=200, content_type="application/json"
            )
        else:
            response = _errors(404, "not found", None)
        return response(environ, start_response)

    def mail_send(self, request: Request) -> Response:
        try:
            body = orjson.loads(request.get_data())
        except orjson.JSONDecodeError:
            return _errors(400, "Bad Request", None)
        problem = _validate(body)
        if problem:
            return _errors(400, problem[1], problem[0])
        with self.lock:
            injected = self.injected.pop(0) if self.injected else None
            x_message_id = secrets.token_urlsafe(16)
            self.requests.append(
                {
                    "body": body if self.keep_content else None,
                    "x_message_id": x_message_id,
                    "answered": injected is None,
                }
            )
            if injected is None:
                self._deliver(body, x_message_id)
        if injected is not None:
            if injected.status is None:
                time.sleep(injected.seconds)
                return Response(b"", status=504)
            return _errors(injected.status, "injected failure", None, injected.headers)
        if self.delay:
            time.sleep(self.delay)
        return Response(b"", status=202, headers={"X-Message-Id": x_message_id})

    def stats(self) -> Response:
        """Test/bench helper (not a SendGrid endpoint): how many requests and recipients arrived."""
        with self.lock:
            counts = self.count_by_message()
            payload = {
                "requests": len(self.requests),
                "recipients": len(self.emails),
                "unique_messages": len(counts),
                "duplicates": sum(n - 1 for n in counts.values() if n > 1),
            }
        return Response(orjson.dumps(payload), status=200, content_type="application/json")

    def _deliver(self, body: dict[str, Any], x_message_id: str) -> None:
        if not self.keep_content:
            batch = body.get("custom_args", {})
            for p in body["personalizations"]:
                self.emails.append({"custom_args": {**batch, **p.get("custom_args", {})}})
            return
        content = {c["type"]: c["value"] for c in body.get("content", [])}
        batch = body.get("custom_args", {})
        for index, p in enumerate(body["personalizations"]):
            subs = p.get("substitutions") or {}
            html, text = content.get("text/html", ""), content.get("text/plain", "")
            for key, value in subs.items():
                html, text = html.replace(key, value), text.replace(key, value)
            self.emails.append(
                {
                    "to": p["to"][0]["email"],
                    "subject": p.get("subject") or body.get("subject"),
                    "html": html,
                    "text": text,
                    "headers": {**body.get("headers", {}), **p.get("headers", {})},
                    "custom_args": {**batch, **p.get("custom_args", {})},
                    "sg_message_id": f"{x_message_id}.filter0001.{index}.0",
                    "from": body["from"],
                }
            )

    def activity(self, request: Request) -> Response:
        query = request.args.get("query", "")
        match = re.match(r"unique_args\['([^']+)'\]=\"([^\"]*)\"", query)
        if not match:
            return _errors(400, "invalid query", "query")
        key, value = match.groups()
        limit = int(request.args.get("limit", 10))
        found = [
            {
                "msg_id": e["sg_message_id"],
                "to_email": e["to"],
                "subject": e["subject"],
                "status": "delivered",
            }
            for e in self.emails
            if str(e["custom_args"].get(key)) == value
        ][:limit]
        return Response(orjson.dumps({"messages": found}), status=200, content_type="application/json")


def _validate(body: Any) -> tuple[str, str] | None:
    if not isinstance(body, dict):
        return None, "body must be an object"  # type: ignore[return-value]
    ps = body.get("personalizations")
    if not isinstance(ps, list) or not ps:
        return (
            "personalizations",
            "The personalizations field is required and must have at least one personalization.",
        )
    if len(ps) > 1000:
        return "personalizations", "You may not have more than 1000 personalizations per API request."
    for p in ps:
        if not p.get("to"):
            return "personalizations.to", "The to array is required for all personalization objects."
        if not p.get("subject") and not body.get("subject"):
            return "subject", "The subject is required."
    if not (body.get("from") or {}).get("email"):
        return "from.email", "The from object must be provided for every email send."
    if not body.get("content") and not body.get("template_id"):
        return "content", "Unless a valid template_id is provided, the content parameter is required."
    return None


def _errors(status: int, message: str, field_name: str | None, headers: dict | None = None) -> Response:
    payload = {"errors": [{"message": message, "field": field_name, "help": None}]}
    return Response(
        orjson.dumps(payload), status=status, headers=headers or {}, content_type="application/json"
    )
