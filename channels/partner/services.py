"""Partner webhooks: endpoints, publishing events as durable deliveries, and delivering them.

Publishing only writes rows in the caller's transaction; a worker woken on commit (and the beat
tick) claims due deliveries with SELECT … FOR UPDATE SKIP LOCKED and a lease, POSTs them signed,
and records every attempt. Functions that schedule take `now` so tests can move the clock.
"""

from __future__ import annotations

import json
import logging
import random
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from channels.partner import conf, transport
from channels.partner.destination import DestinationRefused, DestinationUnresolvable, destination_check
from channels.partner.models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint
from channels.partner.registry import ALL, event_type_known, event_types_list
from channels.partner.signing import headers_build, secret_generate, webhook_id_for
from channels.partner.subscribers import subscriptions_changed
from core.claim import rows_claim
from core.ratelimit import rate_take
from core.setaside import rows_handle
from core.wake import task_wake_on_commit

logger = logging.getLogger(__name__)
SET_ASIDE_QUEUE = "partner_deliveries"  # registered in channels.health

# --- endpoints -------------------------------------------------------------------------------


def endpoint_url_validate(url: str) -> str:
    """A well-formed http(s) URL whose host resolves only to public addresses; else ValidationError on "url"."""
    url = (url or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
        destination_check(url)
    except ValidationError as exc:
        raise ValidationError({"url": exc.messages})
    except (DestinationRefused, DestinationUnresolvable) as exc:
        raise ValidationError({"url": [str(exc)]})
    return url


def endpoint_event_types_validate(event_types: Any) -> list[str]:
    """A list of registered event type names, or ["*"]; errors name the offending index."""
    if not isinstance(event_types, list):
        raise ValidationError(
            {"event_types": ['must be a list of event type names, or ["*"] for every type']}
        )
    clean: list[str] = []
    for i, name in enumerate(event_types):
        if not isinstance(name, str) or not (name == ALL or event_type_known(name)):
            known = ", ".join(n for n, _ in event_types_list())
            raise ValidationError(
                {f"event_types[{i}]": [f"unknown event type {name!r}; known types: {known}"]}
            )
        if name not in clean:
            clean.append(name)
    return [ALL] if ALL in clean else clean


@transaction.atomic
def endpoint_create(
    *,
    url: str,
    event_types: list[str],
    description: str = "",
    enabled: bool = True,
    rate_limit: int | None = None,
) -> tuple[Endpoint, str]:
    """Create an endpoint with a fresh secret. Returns (endpoint, secret): show the secret once, then forget it."""
    endpoint = Endpoint.objects.create(
        url=endpoint_url_validate(url),
        event_types=endpoint_event_types_validate(event_types),
        description=description[:255],
        enabled=enabled,
        rate_limit=rate_limit,
        secret=secret_generate(),
    )
    return endpoint, endpoint.secret


_UPDATABLE = ("url", "description", "event_types", "rate_limit")


@transaction.atomic
def endpoint_update(*, endpoint: Endpoint, data: dict[str, Any]) -> Endpoint:
    """Change url, description, event types, rate limit and/or `enabled`. Secrets change only by rotation."""
    if "url" in data:
        data = {**data, "url": endpoint_url_validate(data["url"])}
    if "event_types" in data:
        data = {**data, "event_types": endpoint_event_types_validate(data["event_types"])}
    # Compare with the stored row: a ModelForm has already copied the new values onto `endpoint`.
    was_enabled = Endpoint.objects.filter(pk=endpoint.pk).values_list("enabled", flat=True).get()
    fields = [field for field in _UPDATABLE if field in data]
    for field in fields:
        setattr(endpoint, field, data[field])
    endpoint.enabled = was_enabled
    endpoint.save(update_fields=[*fields, "updated_at"])
    if "enabled" in data and bool(data["enabled"]) != was_enabled:
        if data["enabled"]:
            endpoint_enable(endpoint=endpoint)
        else:
            endpoint_disable(endpoint=endpoint, reason="Disabled by an operator")
    return endpoint


@transaction.atomic
def endpoint_secret_rotate(*, endpoint: Endpoint, now: datetime | None = None) -> str:
    """A new secret signs from now on; the old one keeps signing alongside it for the overlap period."""
    now = now or timezone.now()
    new_secret = secret_generate()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + conf.rotation_overlap()
    endpoint.secret = new_secret
    endpoint.secret_rotated_at = now
    endpoint.save(
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "secret_rotated_at"]
    )
    return new_secret


def endpoint_signing_secrets(*, endpoint: Endpoint, now: datetime | None = None) -> list[str]:
    now = now or timezone.now()
    secrets_ = [endpoint.secret]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > now
    ):
        secrets_.append(endpoint.previous_secret)
    return secrets_


def endpoint_disable(*, endpoint: Endpoint, reason: str, now: datetime | None = None) -> Endpoint:
    now = now or timezone.now()
    Endpoint.objects.filter(pk=endpoint.pk).update(
        enabled=False, disabled_reason=reason[:255], disabled_at=now
    )
    endpoint.enabled, endpoint.disabled_reason, endpoint.disabled_at = False, reason[:255], now
    subscriptions_changed()
    logger.warning("partner endpoint %s disabled: %s", endpoint.pk, reason)
    return endpoint


def endpoint_enable(*, endpoint: Endpoint) -> Endpoint:
    """Re-enable, forgetting the failure run. Deliveries that failed meanwhile can be replayed."""
    Endpoint.objects.filter(pk=endpoint.pk).update(
        enabled=True, disabled_reason="", disabled_at=None, failing_since=None
    )
    subscriptions_changed()
    endpoint.enabled, endpoint.disabled_reason, endpoint.disabled_at, endpoint.failing_since = (
        True,
        "",
        None,
        None,
    )
    return endpoint


# --- publishing ------------------------------------------------------------------------------


def _payload_check(payload: Any) -> None:
    if not isinstance(payload, dict):
        raise ValueError(f"payload must be a dict, not {type(payload).__name__}")
    try:
        json.dumps(payload)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"payload is not JSON-serialisable: {exc}")


def partner_event_publish(
    *, event_type: str, payload: dict, idempotency_key: str, now: datetime | None = None
) -> int:
    """Fan an event out to every enabled endpoint subscribed to its type, inside the caller's transaction.

    One delivery per (endpoint, idempotency_key): publishing the same key again creates nothing new.
    Returns how many subscribed endpoints have a delivery for this event.
    """
    _payload_check(payload)
    if not idempotency_key:
        raise ValueError("idempotency_key is required")
    now = now or timezone.now()
    endpoints = [
        e.pk
        for e in Endpoint.objects.filter(enabled=True).only("id", "event_types")
        if e.subscribes_to(event_type)
    ]
    if not endpoints:
        return 0
    with transaction.atomic():
        Delivery.objects.bulk_create(
            [_delivery_new(eid, event_type, payload, idempotency_key, now) for eid in endpoints],
            ignore_conflicts=True,
        )
        _wake_on_commit()
    return len(endpoints)


def endpoint_call(
    *,
    endpoint_id: int,
    payload: dict,
    idempotency_key: str,
    event_type: str = "journey.webhook",
    now: datetime | None = None,
) -> int:
    """One signed call to one endpoint (a journey's webhook action), whatever it subscribes to. Returns the delivery id."""
    _payload_check(payload)
    if not idempotency_key:
        raise ValueError("idempotency_key is required")
    if not Endpoint.objects.filter(pk=endpoint_id).exists():
        raise ValueError(f"partner endpoint {endpoint_id} does not exist")
    now = now or timezone.now()
    with transaction.atomic():
        new = _delivery_new(endpoint_id, event_type, payload, idempotency_key, now)
        delivery, created = Delivery.objects.get_or_create(
            endpoint_id=endpoint_id,
            idempotency_key=idempotency_key,
            defaults={
                f: getattr(new, f)
                for f in ("event_type", "webhook_id", "payload", "next_attempt_at", "created_at")
            },
        )
        if created:
            _wake_on_commit()
    return delivery.pk


def _delivery_new(endpoint_id: int, event_type: str, payload: dict, key: str, now: datetime) -> Delivery:
    return Delivery(
        endpoint_id=endpoint_id,
        event_type=event_type,
        idempotency_key=key[:255],
        webhook_id=webhook_id_for(endpoint_id=endpoint_id, idempotency_key=key),
        payload=payload,
        next_attempt_at=now,
        created_at=now,
    )


def _wake_on_commit() -> None:
    """One wake-up per transaction however many events it published; the beat tick covers a lost one."""
    from channels.partner.tasks import deliveries_dispatch_task

    task_wake_on_commit(task=deliveries_dispatch_task)


@transaction.atomic
def delivery_replay(*, delivery: Delivery, now: datetime | None = None) -> Delivery:
    """Queue a delivery again, with the same webhook-id (partners dedupe on it) and a fresh retry schedule."""
    endpoint = Endpoint.objects.get(pk=delivery.endpoint_id)
    if not endpoint.enabled:
        raise ValidationError(
            f"endpoint {endpoint.pk} is disabled ({endpoint.disabled_reason}); enable it first"
        )
    now = now or timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING,
        next_attempt_at=now,
        lease_until=None,
        succeeded_at=None,
        round_start_attempt=F("attempts"),
    )
    _wake_on_commit()
    delivery.refresh_from_db()
    return delivery


# --- delivering ------------------------------------------------------------------------------


def deliveries_claim(*, now: datetime, limit: int) -> list[int]:
    """Reserve up to `limit` due deliveries for this worker (a lease), skipping rows others hold;
    returns their ids, oldest due first."""
    rows = rows_claim(
        queryset=Delivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=now, set_aside_at__isnull=True
        ).filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now)),
        limit=limit,
        order_by=["next_attempt_at", "id"],
        lease={"lease_until": now + conf.lease()},
        returning=("id", "next_attempt_at"),
    )
    return [pk for pk, _ in sorted(rows, key=lambda row: (row[1], row[0]))]


def deliveries_dispatch(*, now: datetime | None = None, max_batches: int = 20) -> int:
    """Deliver what is due, batch by batch, until nothing is due or the batch budget is spent."""
    total = 0
    size = conf.batch_size()
    for _ in range(max_batches):
        at = now or timezone.now()
        ids = deliveries_claim(now=at, limit=size)
        # One at a time (each is an HTTP call, never made twice); a delivery that cannot be sent or
        # recorded on its own is set aside (core.setaside) and the others go on.
        rows_handle(
            queue=SET_ASIDE_QUEUE,
            items=ids,
            handle=lambda part: delivery_attempt(delivery_id=part[0], now=now or timezone.now()),
            split="each",
        )
        total += len(ids)
        if len(ids) < size:
            break
    return total


def request_body(delivery: Delivery) -> str:
    """The JSON body: Standard Webhooks' recommended envelope {type, timestamp, data}."""
    envelope = {
        "type": delivery.event_type,
        "timestamp": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> str:
    """Send one claimed delivery once and record the outcome: succeeded, retry, failed, dead or throttled."""
    now = now or timezone.now()
    delivery = (
        Delivery.objects.select_related("endpoint")
        .filter(pk=delivery_id, status=DeliveryStatus.PENDING)
        .first()
    )
    if delivery is None:
        return "gone"
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.FAILED,
            lease_until=None,
            next_attempt_at=None,
            last_error=f"not sent: endpoint disabled ({endpoint.disabled_reason})"[:500],
        )
        return DeliveryStatus.FAILED
    if endpoint.rate_limit and not _rate_allows(endpoint, now):
        Delivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=now + timedelta(seconds=1), lease_until=None
        )
        return "throttled"
    try:
        destination_check(endpoint.url)
    except DestinationRefused as exc:
        response = transport.Response(status_code=None, duration_ms=0, error=str(exc), refused=True)
    except DestinationUnresolvable as exc:
        response = transport.Response(status_code=None, duration_ms=0, error=str(exc))
    else:
        body = request_body(delivery)
        # The signature's timestamp is the wall clock at sending: the partner checks it against its own clock.
        headers = headers_build(
            secrets_=endpoint_signing_secrets(endpoint=endpoint, now=now),
            webhook_id=delivery.webhook_id,
            timestamp=int(timezone.now().timestamp()),
            body=body,
        )
        response = transport.post(url=endpoint.url, body=body.encode(), headers=headers)
    return _attempt_record(delivery=delivery, endpoint=endpoint, response=response, now=now)


def _rate_allows(endpoint: Endpoint, now: datetime) -> bool:
    # Fail closed: the limit is the partner's, and our Redis blinking must not flood them. The
    # bucket runs on `now`, the clock deliveries are scheduled with.
    grant = rate_take(
        key=f"partner:{endpoint.pk}",
        wanted=1,
        rate=endpoint.rate_limit,
        fail_open=False,
        now=now.timestamp(),
    )
    return grant.granted == 1


def _retry_delay(*, failed_in_round: int, retry_after: float | None) -> float | None:
    """Seconds until the next attempt after the `failed_in_round`-th failed attempt; None when none is left."""
    schedule = conf.retry_schedule()
    if failed_in_round >= len(schedule):
        return None
    delay = schedule[failed_in_round] * (1 + random.uniform(0, conf.retry_jitter()))
    if retry_after is not None:
        delay = max(delay, min(retry_after, conf.max_retry_after()))
    return delay


def _outcome(response: transport.Response) -> tuple[str, str]:
    """("succeeded" | "retry" | "failed" | "gone", error text) for one response."""
    code = response.status_code
    if response.refused:
        return "failed", response.error
    if code is None:
        return "retry", response.error
    if 200 <= code < 300:
        return "succeeded", ""
    if code == 410:
        return "gone", "HTTP 410 Gone: the partner retired this endpoint"
    if code == 429 or code >= 500:
        return "retry", f"HTTP {code}"
    if 300 <= code < 400:
        return "failed", f"HTTP {code}: redirects are not followed; point the endpoint at the final URL"
    return "failed", f"HTTP {code}"


@transaction.atomic
def _attempt_record(
    *, delivery: Delivery, endpoint: Endpoint, response: transport.Response, now: datetime
) -> str:
    outcome, error = _outcome(response)
    attempts = delivery.attempts + 1
    fields: dict[str, Any] = {
        "attempts": attempts,
        "lease_until": None,
        "last_status_code": response.status_code,
        "last_error": error[:500],
    }
    if outcome == "succeeded":
        fields.update(status=DeliveryStatus.SUCCEEDED, succeeded_at=now, next_attempt_at=None)
    elif outcome == "retry":
        delay = _retry_delay(
            failed_in_round=attempts - delivery.round_start_attempt, retry_after=response.retry_after
        )
        if delay is None:
            outcome = DeliveryStatus.DEAD
            fields.update(status=DeliveryStatus.DEAD, next_attempt_at=None)
        else:
            fields.update(next_attempt_at=now + timedelta(seconds=delay))
    else:
        fields.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    Delivery.objects.filter(pk=delivery.pk).update(**fields)
    DeliveryAttempt.objects.create(
        delivery=delivery,
        number=attempts,
        at=now,
        status_code=response.status_code,
        duration_ms=response.duration_ms,
        response_snippet=response.snippet,
        error=error[:500],
        outcome="failed" if outcome == "gone" else outcome,
    )
    _endpoint_health_update(
        endpoint=endpoint, succeeded=outcome == "succeeded", gone=outcome == "gone", now=now
    )
    logger.info(
        "partner delivery %s (endpoint %s) attempt %s: %s",
        delivery.webhook_id,
        endpoint.pk,
        attempts,
        outcome,
    )
    return "failed" if outcome == "gone" else outcome


def _endpoint_health_update(*, endpoint: Endpoint, succeeded: bool, gone: bool, now: datetime) -> None:
    if succeeded:
        Endpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=False).update(failing_since=None)
        return
    if gone:
        endpoint_disable(
            endpoint=endpoint, reason=f"The partner answered 410 Gone on {now:%Y-%m-%d %H:%M} UTC", now=now
        )
        return
    Endpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
    failing_since = Endpoint.objects.filter(pk=endpoint.pk).values_list("failing_since", flat=True).first()
    if failing_since and endpoint.enabled and now - failing_since >= conf.disable_after():
        days = (now - failing_since).total_seconds() / 86400
        endpoint_disable(
            endpoint=endpoint,
            reason=f"Every delivery failed for {days:.1f} days (since {failing_since:%Y-%m-%d %H:%M} UTC)",
            now=now,
        )
