"""Provider callbacks: validate (signature) → parse → normalised results.

Unsigned or wrongly signed callbacks get 403, malformed ones 400; both are counted
(CallbackRejection, visible in the admin). Unexpected errors are left to become a 500 so the
provider retries later; results are deduplicated on the provider's event id, so retries are safe.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from sendgrid.helpers.eventwebhook import EventWebhook
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from channels.adapters import channel_config, provider_secrets
from channels.models import CallbackRejection, Message
from channels.results import Result, results_record
from channels.subscriptions import sms_keyword_apply
from core.text import NUL_REASON, nul_path

logger = logging.getLogger(__name__)

# No field a provider sends is longer (SMS bodies stop at 1,600 characters, URLs and SMTP answers
# well short of this); a longer one is refused, never left to overflow a column into a 500.
MAX_VALUE_CHARS = 4096
# Provider event ids become `<provider>:<id>` in MessageEvent.provider_event_id (255 characters).
MAX_EVENT_ID_CHARS = 200
# Voyage message ids are bigint primary keys: 18 digits are plenty, more is not one of ours.
MAX_MESSAGE_ID_DIGITS = 18
# A Unix time in seconds has 10 digits until the year 2286.
MAX_TIMESTAMP_DIGITS = 12


def _value_problem(value: Any, *, path: str = "") -> str | None:
    """What is wrong with a callback's values (a NUL, an absurd length), naming the field; or None."""
    where = nul_path(value, prefix=path)
    if where is not None:
        return f"{where}: {NUL_REASON}"
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        at, item = stack.pop()
        if isinstance(item, str) and len(item) > MAX_VALUE_CHARS:
            return f"{at}: longer than {MAX_VALUE_CHARS} characters"
        if isinstance(item, dict):
            stack.extend((f"{at}.{k}" if at else str(k), v) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((f"{at}[{i}]", v) for i, v in enumerate(item))
    return None


SENDGRID_EVENTS = {
    "processed": "processed",
    "delivered": "delivered",
    "deferred": "deferred",
    "bounce": "bounced",
    "dropped": "dropped",
    "open": "opened",
    "click": "clicked",
    "spamreport": "spam_report",
    "unsubscribe": "unsubscribed",
    "group_unsubscribe": "unsubscribed",
    "group_resubscribe": "resubscribed",
}
TWILIO_STATUSES = {
    "queued": "processed",
    "accepted": "processed",
    "sending": "processed",
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "failed",
    "failed": "failed",
    "read": "read",
}


def _reject(request: HttpRequest, endpoint: str, status: int, reason: str) -> HttpResponse:
    CallbackRejection.objects.create(
        endpoint=endpoint,
        status_code=status,
        reason=reason.replace("\x00", "\\u0000")[:255],
        remote_addr=request.META.get("REMOTE_ADDR", "")[:64],
    )
    logger.warning("channels: %s callback rejected (%s): %s", endpoint, status, reason)
    return JsonResponse({"detail": reason}, status=status)


def _secrets(channel: str, provider: str) -> dict[str, Any]:
    config = channel_config(channel)
    if config and config[0] == provider:
        return config[2]
    return provider_secrets(provider, {})


# -- SendGrid Event Webhook ------------------------------------------------------------------------
@csrf_exempt
@require_POST
def sendgrid_events(request: HttpRequest) -> HttpResponse:
    endpoint = "sendgrid_events"
    public_key = _secrets("email", "sendgrid").get("webhook_public_key")
    signature = request.headers.get("X-Twilio-Email-Event-Webhook-Signature", "")
    timestamp = request.headers.get("X-Twilio-Email-Event-Webhook-Timestamp", "")
    if not public_key:
        return _reject(
            request, endpoint, 403, "no verification key configured: unsigned callbacks are refused"
        )
    if not signature or not timestamp:
        return _reject(request, endpoint, 403, "missing signature headers")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= MAX_TIMESTAMP_DIGITS):
        return _reject(request, endpoint, 403, "timestamp header is not a Unix time in seconds")
    age = time.time() - int(timestamp)
    if age > settings.CHANNELS_CALLBACK_MAX_AGE:
        return _reject(request, endpoint, 403, "timestamp too old (replay?)")
    if -age > settings.CHANNELS_CALLBACK_MAX_SKEW:
        return _reject(request, endpoint, 403, "timestamp in the future (clock skew or forgery)")
    body = request.body.decode("utf-8", errors="replace")
    try:
        verifier = EventWebhook()
        valid = verifier.verify_signature(
            body, signature, timestamp, verifier.convert_public_key_to_ecdsa(public_key)
        )
    except (ValueError, TypeError):
        valid = False
    if not valid:
        return _reject(request, endpoint, 403, "signature does not verify")
    try:
        events = orjson.loads(request.body)
    except orjson.JSONDecodeError as exc:
        return _reject(request, endpoint, 400, f"body: not JSON ({exc})")
    if not isinstance(events, list):
        return _reject(request, endpoint, 400, "body: must be a JSON array of events")
    problem = _value_problem(events)
    if problem is not None:
        return _reject(request, endpoint, 400, problem)
    results: list[Result] = []
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            return _reject(request, endpoint, 400, f"[{index}]: must be an object")
        for field in ("event", "sg_event_id", "timestamp"):
            if field not in event:
                return _reject(request, endpoint, 400, f"[{index}].{field}: required")
        kind = SENDGRID_EVENTS.get(event["event"])
        if kind is None:
            return _reject(request, endpoint, 400, f"[{index}].event: unknown event type {event['event']!r}")
        try:
            at = datetime.fromtimestamp(int(event["timestamp"]), tz=UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            return _reject(request, endpoint, 400, f"[{index}].timestamp: not a Unix time")
        if (
            not isinstance(event["sg_event_id"], str | int)
            or len(str(event["sg_event_id"])) > MAX_EVENT_ID_CHARS
        ):
            return _reject(
                request,
                endpoint,
                400,
                f"[{index}].sg_event_id: not an event id of at most {MAX_EVENT_ID_CHARS} characters",
            )
        raw_id = event.get("voyage_message_id")
        raw_id = str(raw_id) if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else ""
        if not (raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= MAX_MESSAGE_ID_DIGITS):
            continue  # not a message we sent (another system on the same SendGrid account)
        data = {
            k: event[k]
            for k in (
                "reason",
                "type",
                "url",
                "status",
                "response",
                "attempt",
                "sg_message_id",
                "useragent",
                "ip",
            )
            if k in event
        }
        results.append(Result(int(raw_id), kind, at, data, f"sendgrid:{event['sg_event_id']}"))
    recorded = results_record(results)
    return JsonResponse({"received": len(events), "recorded": recorded})


# -- Twilio ----------------------------------------------------------------------------------------
def _twilio_valid(request: HttpRequest, channel: str) -> bool:
    token = _secrets(channel, "twilio").get("auth_token")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    # The URL Twilio signed is our public one (the app may sit behind a proxy).
    url = settings.PUBLIC_BASE_URL.rstrip("/") + request.get_full_path()
    params = {k: request.POST.get(k) for k in request.POST}
    return RequestValidator(token).validate(url, params, signature)


def _twilio_problem(request: HttpRequest) -> str | None:
    """A validly signed form can still hold what we cannot store: checked after the signature, so
    a forger learns nothing about our limits."""
    problem = _value_problem({key: " ".join(values) for key, values in request.POST.lists()})
    if problem is not None:
        return problem
    for field in ("MessageSid", "SmsSid", "From"):
        if len(request.POST.get(field, "")) > 64:  # SIDs are 34 characters, addresses E.164
            return f"{field}: longer than 64 characters"
    return None


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    endpoint = "twilio_status"
    channel = "whatsapp" if request.POST.get("From", "").startswith("whatsapp:") else "sms"
    if not _twilio_valid(request, channel):
        return _reject(request, endpoint, 403, "missing or invalid X-Twilio-Signature")
    problem = _twilio_problem(request)
    if problem is not None:
        return _reject(request, endpoint, 400, problem)
    sid = request.POST.get("MessageSid") or request.POST.get("SmsSid")
    status = request.POST.get("MessageStatus") or request.POST.get("SmsStatus")
    if not sid:
        return _reject(request, endpoint, 400, "MessageSid: required")
    kind = TWILIO_STATUSES.get(status or "")
    if kind is None:
        return _reject(request, endpoint, 400, f"MessageStatus: unknown status {status!r}")
    message_id = (
        Message.objects.filter(provider="twilio", provider_message_id=sid)
        .values_list("pk", flat=True)
        .first()
    )
    if message_id is None:
        return HttpResponse(status=204)  # not ours, or already erased
    data: dict[str, Any] = {"status": status}
    if request.POST.get("ErrorCode"):
        data["error_code"] = request.POST["ErrorCode"]
    if request.POST.get("Price"):
        data["price"], data["price_unit"] = request.POST["Price"], request.POST.get("PriceUnit", "USD")
    results_record([Result(message_id, kind, datetime.now(tz=UTC), data, f"twilio:{sid}:{status}")])
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    endpoint = "twilio_inbound"
    sender = request.POST.get("From", "")
    channel = "whatsapp" if sender.startswith("whatsapp:") else "sms"
    if not _twilio_valid(request, channel):
        return _reject(request, endpoint, 403, "missing or invalid X-Twilio-Signature")
    problem = _twilio_problem(request)
    if problem is not None:
        return _reject(request, endpoint, 400, problem)
    if not sender or "Body" not in request.POST:
        return _reject(request, endpoint, 400, "From and Body: required")
    outcome = sms_keyword_apply(
        channel=channel, address=sender.removeprefix("whatsapp:"), body=request.POST["Body"]
    )
    reply = MessagingResponse()
    options = (channel_config(channel) or ("", {}, {}))[1]
    if outcome.action == "help":
        reply.message(
            options.get("help_text")
            or "Voyage shop alerts. Reply STOP to unsubscribe, START to resubscribe. Msg&data rates may apply."
        )
    elif outcome.action == "start":
        reply.message(options.get("start_text") or "You are subscribed again. Reply STOP to unsubscribe.")
    # STOP: Twilio's own opt-out confirmation is sent by Twilio; we answer with an empty response.
    return HttpResponse(str(reply), content_type="application/xml")
