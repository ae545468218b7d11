"""On-site messages: validating a design, deciding what a visitor may see, recording what they did.

The decision is made on the server on every page view (the snippet asks once), so caps hold for a
known profile however the browser's storage is cleared. Identity: an anonymous id is the browser's
own random id (analytics.js' ajs_anonymous_id) and is trusted as that browser; a user id is trusted
only when signed by the shop's server (`user_id_signature`), otherwise ignored, so a forged user id
sees what any anonymous visitor would.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from liquid import Environment
from liquid.exceptions import LiquidError

from audiences.models import AudienceMembership, ComputedTag
from channels.rendering import render_context
from core.setaside import rows_handle
from journeys.onsite.models import (
    EVENT_NAMES,
    POPUP_KINDS,
    Device,
    Interaction,
    InteractionKind,
    Kind,
    Message,
    Status,
    Submission,
    SubmissionStatus,
    Trigger,
    Variant,
    Visitor,
    Who,
)
from journeys.onsite.queue import converted_messages, queued_pending
from tracking.identity_keys import normalize_email, normalize_phone
from tracking.ingest import ingest_messages
from tracking.models import Channel, Identity, IdentityKind, Profile, Source
from tracking.selectors import profiles_lookup
from tracking.services.profiles import consent_set

# Output is plain text: the snippet inserts it with textContent, never as HTML.
_text_env = Environment(autoescape=False)
_URL_MATCHES = ("contains", "equals", "regex")
CONSENT_METHOD = "onsite form"


# --- signing the user id ---------------------------------------------------------------------------


def onsite_signing_secret(*, source: Source) -> str:
    """The secret the shop's server signs user ids with; a new write key gives a new secret."""
    return hmac.new(
        settings.SECRET_KEY.encode(), f"voyage-onsite-user:{source.write_key}".encode(), hashlib.sha256
    ).hexdigest()


def user_id_sign(*, source: Source, user_id: str) -> str:
    """What the shop's server computes: hex HMAC-SHA256(secret, user_id) (docs/onsite.md)."""
    return hmac.new(
        onsite_signing_secret(source=source).encode(), user_id.encode(), hashlib.sha256
    ).hexdigest()


def user_id_verified(*, source: Source, user_id: str, signature: str) -> bool:
    if not user_id or not signature:
        return False
    return hmac.compare_digest(user_id_sign(source=source, user_id=user_id), signature.lower())


# --- validation ------------------------------------------------------------------------------------


def _url_allowed(url: str, *, source: Source) -> bool:
    """Links are the shop's: a path on the page's site, or an absolute URL on an allowed origin."""
    if url.startswith("/") and not url.startswith("//"):
        return True
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    origin = f"{parts.scheme}://{parts.netloc.lower()}"
    return origin in (source.allowed_origins or [])


def message_validate(*, message: Message, variants: list[Variant] | None = None) -> None:
    """Errors by field name, so the admin shows each beside its field."""
    errors: dict[str, list[str]] = {}
    need = {
        Trigger.DELAY: ("trigger_seconds", "seconds to wait"),
        Trigger.PAGES: ("trigger_pages", "the number of pages"),
        Trigger.SCROLL: ("trigger_scroll_percent", "the scroll depth in %"),
        Trigger.EVENT: ("trigger_event", "the event name"),
    }
    if message.trigger in need:
        name, what = need[message.trigger]
        if not getattr(message, name):
            errors[name] = [f"this trigger needs {what}"]
    if message.trigger_unless_event and not message.trigger_wait_minutes:
        errors["trigger_wait_minutes"] = ["say within how many minutes the other event must follow"]
    if message.kind == Kind.EMBEDDED and not message.embed_selector.strip():
        errors["embed_selector"] = ["an embedded block needs the CSS selector of the element to fill"]
    if message.trigger == Trigger.EXIT_INTENT and message.device == Device.MOBILE:
        errors["device"] = ["exit intent is a desktop trigger (mobile has no mouse leaving the page)"]
    rules = message.url_rules
    if not isinstance(rules, list):
        errors["url_rules"] = ["must be a list of rules"]
    else:
        problems = []
        for i, rule in enumerate(rules, start=1):
            if not isinstance(rule, dict) or rule.get("match") not in _URL_MATCHES or not rule.get("value"):
                problems.append(f"rule {i}: needs match (contains, equals or regex) and a value")
                continue
            if rule["match"] == "regex":
                try:
                    re.compile(rule["value"])
                except re.error as exc:
                    problems.append(f"rule {i}: not a valid regular expression ({exc})")
        errors["url_rules"] = problems
    tags = message.required_tags
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        errors["required_tags"] = ['a list of tag names, e.g. ["coupon_sensitive"]']
    consents = message.consents
    channels = set(Channel.values)
    if not isinstance(consents, list):
        errors["consents"] = ["must be a list"]
    else:
        problems = []
        for i, c in enumerate(consents, start=1):
            if not isinstance(c, dict) or c.get("channel") not in channels or not c.get("label"):
                problems.append(f"checkbox {i}: needs a channel ({', '.join(sorted(channels))}) and a label")
        errors["consents"] = problems
        if consents and not (message.form_email or message.form_phone):
            errors.setdefault("form_email", []).append("consent checkboxes need an email or phone field")
    if message.stop_after_conversion and not message.goal_event.strip():
        errors["stop_after_conversion"] = ["stopping after a conversion needs the goal event (Conversion)"]
    if message.who == Who.ANONYMOUS and (message.audience_id or message.required_tags):
        errors["who"] = ["audiences and tags are about known profiles; 'only unknown visitors' excludes them"]
    for variant in variants or []:
        for name in ("headline", "body", "cta_label", "cta_url", "coupon_code"):
            try:
                _text_env.from_string(getattr(variant, name) or "")
            except LiquidError as exc:
                errors.setdefault(name, []).append(
                    f"arm {variant.arm}/{variant.locale}: {str(exc).splitlines()[0]}"
                )
        if (
            variant.cta_url
            and "{" not in variant.cta_url
            and not _url_allowed(variant.cta_url, source=message.source)
        ):
            errors.setdefault("cta_url", []).append(
                f"arm {variant.arm}/{variant.locale}: a path such as /sale, or a URL on one of the source's "
                "allowed origins"
            )
    errors = {k: v for k, v in errors.items() if v}
    if errors:
        raise ValidationError(errors)


# --- the decision ----------------------------------------------------------------------------------


@dataclass
class PageContext:
    anonymous_id: str
    user_id: str = ""
    user_id_signature: str = ""
    session_id: str = ""
    page_view_id: str = ""
    url: str = ""
    device: str = Device.DESKTOP
    new_visitor: bool = False
    session_pages: int = 1
    utm_source: str = ""
    locale: str = ""
    preview: int | None = None  # a message id forced on by a signed preview token


@dataclass
class Visitor_:
    profile: Profile | None
    personal: bool  # may content use this profile's traits
    known: bool
    key: str  # stable bucketing key for A/B and holdout
    identities: dict[str, str] = field(default_factory=dict)


_ACTIVE: dict[int, tuple[float, list[Message]]] = {}
_ACTIVE_TTL = 5.0


def messages_active(*, source: Source) -> list[Message]:
    """The source's active messages with their variants; cached a few seconds in-process."""
    now = time.monotonic()
    hit = _ACTIVE.get(source.pk)
    if hit and now - hit[0] < _ACTIVE_TTL:
        return hit[1]
    found = list(
        Message.objects.filter(source=source, status=Status.ACTIVE)
        .prefetch_related("variants")
        .order_by("-priority", "id")
    )
    _ACTIVE[source.pk] = (now, found)
    return found


def messages_cache_clear() -> None:
    _ACTIVE.clear()


def visitor_resolve(*, source: Source, context: PageContext) -> Visitor_:
    """Who is asking: a signed user id, else the browser's anonymous id; unsigned user ids are ignored.
    One query (this runs on every page view of the shop)."""
    user_id = (
        context.user_id
        if user_id_verified(source=source, user_id=context.user_id, signature=context.user_id_signature)
        else ""
    )
    profile, known = _profile_of(user_id=user_id, anonymous_id=context.anonymous_id)
    key = user_id or context.anonymous_id
    return Visitor_(profile=profile, personal=profile is not None, known=known, key=key,
                    identities={"anonymousId": context.anonymous_id, **({"userId": user_id} if user_id else {})})  # fmt: skip


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _profile_of(*, user_id: str, anonymous_id: str) -> tuple[Profile | None, bool]:
    """The profile of the signed user id, else of the anonymous id, and whether it is known (a user
    id, email or phone), in one round trip: the instance carries what rendering and recording need."""
    if not user_id and not anonymous_id:
        return None, False
    identity, profile = Identity._meta.db_table, Profile._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT p.id, p.traits, p.tags, p.locale, p.timezone, p.country,
                   EXISTS (SELECT 1 FROM {identity} k
                           WHERE k.profile_id = p.id AND k.kind IN (%(u)s, %(e)s, %(ph)s)) AS known
            FROM {identity} i JOIN {profile} p ON p.id = i.profile_id
            WHERE (i.kind = %(u)s AND i.value = %(user_id)s) OR (i.kind = %(a)s AND i.value = %(anonymous_id)s)
            ORDER BY (i.kind = %(u)s) DESC, i.id
            LIMIT 1
            """,
            {
                "u": IdentityKind.USER_ID.value, "e": IdentityKind.EMAIL.value, "ph": IdentityKind.PHONE.value,
                "a": IdentityKind.ANONYMOUS_ID.value, "user_id": user_id or None, "anonymous_id": anonymous_id or None,
            },
        )  # fmt: skip
        row = cursor.fetchone()
    if row is None:
        return None, False
    pk, traits, tags, locale, zone, country, known = row
    found = Profile(
        pk=pk, traits=_json(traits), tags=_json(tags), locale=locale, timezone=zone, country=country
    )
    found._state.adding, found._state.db = False, "default"
    return found, bool(known)


def _memberships_and_computed_tags(
    *, profile_id: int, audience_ids: list[int], with_tags: bool
) -> tuple[set[int], set[str]]:
    """The audiences (of those asked) the profile is in, and its computed tags: one round trip."""
    membership, computed = AudienceMembership._meta.db_table, ComputedTag._meta.db_table
    parts, params = [], []
    if audience_ids:
        parts.append(
            f"SELECT 'a', audience_id::text FROM {membership} "
            "WHERE profile_id = %s AND audience_id = ANY(%s) AND exited_at IS NULL"
        )
        params += [profile_id, audience_ids]
    if with_tags:
        parts.append(f"SELECT 't', name FROM {computed} WHERE profile_id = %s")
        params.append(profile_id)
    if not parts:
        return set(), set()
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        rows = cursor.fetchall()
    return {int(v) for k, v in rows if k == "a"}, {v for k, v in rows if k == "t"}


def _bucket(message_id: int, key: str, salt: str) -> int:
    digest = hashlib.sha256(f"{salt}:{message_id}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _url_ok(message: Message, url: str) -> bool:
    includes = [r for r in message.url_rules if not r.get("exclude")]
    excludes = [r for r in message.url_rules if r.get("exclude")]

    def hit(rule: dict[str, Any]) -> bool:
        value = rule["value"]
        if rule["match"] == "equals":
            return url == value or urlsplit(url).path == value
        if rule["match"] == "regex":
            return re.search(value, url) is not None
        return value in url

    if includes and not any(hit(r) for r in includes):
        return False
    return not any(hit(r) for r in excludes)


def _page_ok(message: Message, ctx: PageContext, *, pushed: bool = False) -> bool:
    if message.device != Device.ANY and message.device != ctx.device:
        return False
    if pushed:  # queued by a journey for this profile: who the visitor is was decided there
        return _url_ok(message, ctx.url)
    if message.visitor == Visitor.NEW and not ctx.new_visitor:
        return False
    if message.visitor == Visitor.RETURNING and ctx.new_visitor:
        return False
    if message.utm_source and message.utm_source.lower() != ctx.utm_source.lower():
        return False
    return _url_ok(message, ctx.url)


def _capped(
    message: Message, history: list[Seen], ctx: PageContext, now: Any, *, converted: set[int], pushed: bool
) -> bool:
    mine = [i for i in history if i.message_id == message.pk]
    views = [i for i in mine if i.kind == InteractionKind.VIEW]
    if message.stop_after_submit and any(i.kind == InteractionKind.SUBMIT for i in mine):
        return True
    if message.stop_after_click and any(i.kind == InteractionKind.CLICK for i in mine):
        return True
    if message.stop_after_conversion and message.pk in converted:
        return True
    if pushed:  # a journey's queued showing is once by itself (journeys/onsite/queue.py)
        return False
    if message.max_views is not None and len(views) >= message.max_views:
        return True
    if message.once_per_session and ctx.session_id and any(v.session_id == ctx.session_id for v in views):
        return True
    recent = now - timedelta(days=message.min_days_between or 0)
    return bool(message.min_days_between and views and max(v.at for v in views) > recent)


def _variant_pick(message: Message, key: str, locale: str) -> Variant | None:
    variants = list(message.variants.all())
    if not variants:
        return None
    arms: dict[str, int] = {}
    for v in variants:
        arms[v.arm] = max(arms.get(v.arm, 0), v.weight)
    total = sum(arms.values())
    if total <= 0:
        return None
    point = _bucket(message.pk, key, "arm") % total
    chosen = sorted(arms)[-1]
    for arm in sorted(arms):
        if point < arms[arm]:
            chosen = arm
            break
        point -= arms[arm]
    in_arm = {v.locale.lower(): v for v in variants if v.arm == chosen}
    wanted = (locale or "").lower().replace("_", "-")
    for candidate in (wanted, wanted.split("-")[0], "en"):
        if candidate and candidate in in_arm:
            return in_arm[candidate]
    return next(iter(in_arm.values()))


_FIELDS = ("headline", "body", "cta_label", "cta_url", "coupon_code", "submit_label", "success_text")


def _compiled(variant: Variant, name: str) -> Any:
    """The field's parsed template, kept on the (cached) variant: parsing is most of a render's cost."""
    cache: dict[str, Any] = variant.__dict__.setdefault("_onsite_compiled", {})
    if name not in cache:
        text = getattr(variant, name) or ""
        try:
            cache[name] = _text_env.from_string(text) if "{" in text else text
        except LiquidError:
            cache[name] = ""  # saved before validation existed: shows nothing rather than a broken box
    return cache[name]


def render_context_for(visitor: Visitor_) -> dict[str, Any]:
    # Unsigned visitors get content rendered against an empty profile: nothing personal leaks.
    profile = visitor.profile if visitor.personal and visitor.profile is not None else Profile()
    return render_context(profile=profile, data={}, links={})


def _render(variant: Variant, *, message: Message, context: dict[str, Any]) -> dict[str, str]:
    context = {**context, "coupon": variant.coupon_code}
    out: dict[str, str] = {}
    for name in _FIELDS:
        template = _compiled(variant, name)
        if isinstance(template, str):
            out[name] = template
            continue
        try:
            out[name] = template.render(**context)
        except Exception:  # a template that breaks on odd data shows nothing rather than a broken box
            out[name] = ""
    if out["cta_url"] and not _url_allowed(out["cta_url"], source=message.source):
        out["cta_url"] = ""
    out["image_url"] = variant.image_url if variant.image_url.startswith("https://") else ""
    return out


def _one_per_place(messages: list[Message]) -> list[Message]:
    """What one page view can show: a few pop-ups (each with its own trigger; the snippet shows the
    first that fires, at most one), one bar per edge, one block per selector; highest priority first."""
    out: list[Message] = []
    popups = 0
    places: set[str] = set()
    for message in messages:
        if message.kind in POPUP_KINDS:
            if popups >= settings.ONSITE_POPUPS_PER_PAGE:
                continue
            popups += 1
        else:
            place = message.embed_selector if message.kind == Kind.EMBEDDED else message.kind
            if place in places:
                continue
            places.add(place)
        out.append(message)
    return out


def messages_decide(*, source: Source, context: PageContext) -> list[dict[str, Any]]:
    """The messages this visitor may see on this page, rendered; records holdouts (once per visitor)."""
    now = timezone.now()
    visitor = visitor_resolve(source=source, context=context)
    candidates = messages_active(source=source)
    if context.preview is not None:
        forced = (
            Message.objects.filter(pk=context.preview, source=source).prefetch_related("variants").first()
        )
        candidates = [forced] if forced else []
    if not candidates:
        return []
    history = interactions_of(
        visitor=visitor, anonymous_id=context.anonymous_id, since=now - timedelta(days=400)
    )
    gap = timedelta(seconds=settings.ONSITE_POPUP_MIN_GAP_SECONDS)
    # Site-wide: a pop-up seen on an earlier page within the gap holds every pop-up back.
    recent_popup = any(
        h.kind == InteractionKind.VIEW
        and h.popup
        and h.at > now - gap
        and h.page_view_id != context.page_view_id
        for h in history
    )
    member_of: set[int] = set()
    tags: set[str] = set()
    if visitor.profile is not None:
        # The computed tags (coupon_sensitivity:high, favourite_category:…, lifecycle:…) count as
        # well as the ones set by hand or by journeys.
        member_of, tags = _memberships_and_computed_tags(
            profile_id=visitor.profile.pk,
            audience_ids=[m.audience_id for m in candidates if m.audience_id],
            with_tags=any(m.required_tags for m in candidates),
        )
        tags |= set(visitor.profile.tags or [])
    # --- journeys/onsite/queue.py: messages journeys queued for this profile (shown once, past who,
    # audience and tags) and the stop-after-a-conversion cap; one indexed query each, only when needed.
    queued: set[int] = set()
    converted: set[int] = set()
    if visitor.profile is not None and context.preview is None:
        queued = queued_pending(profile_id=visitor.profile.pk, history=history, now=now)
        converted = converted_messages(profile_id=visitor.profile.pk, messages=candidates, history=history)
    # ---
    eligible: list[Message] = []
    for message in candidates:
        if context.preview is None:
            pushed = message.pk in queued
            if not _page_ok(message, context, pushed=pushed):
                continue
            if message.who == Who.ANONYMOUS and visitor.known and not pushed:
                continue
            if message.who == Who.KNOWN and not visitor.known and not pushed:
                continue
            if message.audience_id and message.audience_id not in member_of and not pushed:
                continue
            if message.required_tags and not set(message.required_tags) <= tags and not pushed:
                continue
            if _capped(message, history, context, now, converted=converted, pushed=pushed):
                continue
            if message.kind in POPUP_KINDS and recent_popup:
                continue
        eligible.append(message)
    eligible.sort(key=lambda m: m.pk not in queued)  # queued first: they take their place
    chosen: list[tuple[Message, Variant]] = []
    held: list[Interaction] = []
    # The places are taken before the holdout: a held-out visitor sees nothing where the message
    # would have been (and is counted only for messages they would have been shown).
    for message in _one_per_place(eligible):
        variant = _variant_pick(message, visitor.key, context.locale)
        if variant is None:
            continue
        if (
            context.preview is None
            and message.holdout_percent
            and (_bucket(message.pk, visitor.key, "holdout") % 100 < message.holdout_percent)
        ):
            if not any(i.message_id == message.pk and i.kind == InteractionKind.HOLDOUT for i in history):
                held.append(
                    Interaction(
                        message=message,
                        arm="holdout",
                        kind=InteractionKind.HOLDOUT,
                        profile=visitor.profile,
                        anonymous_id=context.anonymous_id,
                        session_id=context.session_id,
                        page_view_id=context.page_view_id,
                        at=now,
                    )  # fmt: skip
                )
            continue
        chosen.append((message, variant))
    context_ = render_context_for(visitor)
    out = [_payload(m, v, context=context_) for m, v in chosen]
    if held:
        Interaction.objects.bulk_create(held)
    return out


def _payload(message: Message, variant: Variant, *, context: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": message.pk,
        "arm": variant.arm,
        "kind": message.kind,
        "popup": message.kind in POPUP_KINDS,
        "selector": message.embed_selector if message.kind == Kind.EMBEDDED else "",
        "trigger": {
            "type": message.trigger,
            "seconds": message.trigger_seconds,
            "pages": message.trigger_pages,
            "scroll": message.trigger_scroll_percent,
            "event": message.trigger_event,
            "unless": message.trigger_unless_event,
            "waitMinutes": message.trigger_wait_minutes,
        },
        "content": _render(variant, message=message, context=context),
        "form": {
            "email": message.form_email,
            "phone": message.form_phone,
            "consents": [
                {"key": f"{c['channel']}:{c.get('topic') or 'marketing'}", "label": c["label"]}
                for c in message.consents
            ],
        },
    }


@dataclass(frozen=True)
class Seen:
    message_id: int
    popup: bool
    kind: str
    at: Any
    session_id: str
    page_view_id: str


def interactions_of(*, visitor: Visitor_, anonymous_id: str, since: Any) -> list[Seen]:
    """This visitor's interactions: by profile when known (survives cleared storage), and by browser."""
    query = Q(anonymous_id=anonymous_id) if anonymous_id else Q(pk__in=[])
    if visitor.profile is not None:
        query |= Q(profile=visitor.profile)
    rows = (
        Interaction.objects.filter(query, at__gte=since)
        .order_by("-at")
        .values_list("message_id", "message__kind", "kind", "at", "session_id", "page_view_id")[:2000]
    )
    return [Seen(m, k in POPUP_KINDS, kind, at, sid, pv) for m, k, kind, at, sid, pv in rows]


# --- what the visitor did ------------------------------------------------------------------------


def _track(
    source: Source, visitor: Visitor_, name: str, properties: dict[str, Any], context: PageContext
) -> None:
    message = {
        "type": "track",
        "event": name,
        "messageId": f"onsite-{uuid.uuid4()}",
        "properties": properties,
        "context": {"page": {"url": context.url}, "library": {"name": "voyage-onsite", "version": "1"}},
        **visitor.identities,
    }
    ingest_messages([message], source=source)


def _arm_checked(message: Message, arm: str) -> str:
    """Results are counted per arm: an arm the message does not have would invent one."""
    arms = {v.arm for v in message.variants.all()}
    if arm not in arms:
        raise ValidationError({"arm": [f"not an arm of this message ({', '.join(sorted(arms))})"]})
    return arm


@transaction.atomic
def interaction_record(
    *, source: Source, context: PageContext, message_id: int, arm: str, kind: str
) -> Interaction:
    """A view, close or click: kept for caps and results, and sent into tracking as an event."""
    if kind not in (InteractionKind.VIEW, InteractionKind.CLOSE, InteractionKind.CLICK):
        raise ValidationError({"kind": ["one of view, close, click (submits go to the form endpoint)"]})
    message = Message.objects.filter(pk=message_id, source=source).first()
    if message is None:
        raise ValidationError({"messageId": ["no such message on this site"]})
    arm = _arm_checked(message, arm)
    visitor = visitor_resolve(source=source, context=context)
    interaction = Interaction.objects.create(
        message=message, arm=arm[:16], kind=kind, profile=visitor.profile, anonymous_id=context.anonymous_id,
        session_id=context.session_id[:64], page_view_id=context.page_view_id[:64], at=timezone.now(),
    )  # fmt: skip
    _track(source, visitor, EVENT_NAMES[kind],
           {"message_id": message.pk, "message_name": message.name, "arm": arm, "kind": message.kind}, context)  # fmt: skip
    return interaction


@transaction.atomic
def form_submit(
    *,
    source: Source,
    context: PageContext,
    message_id: int,
    arm: str,
    email: str,
    phone: str,
    consents: list[str],
) -> Submission:
    """Identify the visitor with what they typed, and record the consents they ticked (applied once
    the identify has been resolved to a profile: `submissions_apply`)."""
    message = Message.objects.filter(pk=message_id, source=source).first()
    if message is None:
        raise ValidationError({"messageId": ["no such message on this site"]})
    if not context.anonymous_id:
        raise ValidationError({"anonymousId": ["required"]})
    arm = _arm_checked(message, arm)
    errors: dict[str, list[str]] = {}
    clean_email = clean_phone = ""
    if message.form_email:
        clean_email = normalize_email(email) or ""
        if not clean_email:
            errors["email"] = ["enter a valid email address"]
    if message.form_phone:
        clean_phone = normalize_phone(phone) or ""
        if not clean_phone and (phone or not message.form_email):
            errors["phone"] = ["enter the number with its country code, e.g. +14155550100"]
    offered = {f"{c['channel']}:{c.get('topic') or 'marketing'}" for c in message.consents}
    unknown = [c for c in consents if c not in offered]
    if unknown:
        errors["consents"] = [f"not offered by this message: {', '.join(unknown)}"]
    if errors:
        raise ValidationError(errors)
    granted = []
    for key in consents:
        channel, topic = key.split(":", 1)
        granted.append({"channel": channel, "topic": topic, "granted": True})
    submission = Submission.objects.create(
        message=message, arm=arm[:16], anonymous_id=context.anonymous_id, email=clean_email, phone=clean_phone,
        consents=granted,
    )  # fmt: skip
    visitor = visitor_resolve(source=source, context=context)
    Interaction.objects.create(
        message=message, arm=arm[:16], kind=InteractionKind.SUBMIT, profile=visitor.profile,
        anonymous_id=context.anonymous_id, session_id=context.session_id[:64],
        page_view_id=context.page_view_id[:64], at=timezone.now(),
    )  # fmt: skip
    traits = {k: v for k, v in (("email", clean_email), ("phone", clean_phone)) if v}
    ingest_messages(
        [{"type": "identify", "messageId": f"onsite-{uuid.uuid4()}", "traits": traits, **visitor.identities,
          "context": {"library": {"name": "voyage-onsite", "version": "1"}}}],
        source=source,
    )  # fmt: skip
    _track(source, visitor, EVENT_NAMES[InteractionKind.SUBMIT],
           {"message_id": message.pk, "message_name": message.name, "arm": arm, "kind": message.kind}, context)  # fmt: skip
    return submission


SUBMISSIONS_QUEUE = "onsite_submissions"


def submissions_apply(*, limit: int = 500) -> int:
    """Pending form submits whose visitor now has a profile: record each ticked consent.

    Claimed with SKIP LOCKED, never looked-at ones first; one that fails on its own is set aside
    (core.setaside) and the others are applied."""
    with transaction.atomic():
        ids = list(
            Submission.objects.select_for_update(skip_locked=True)
            .filter(status=SubmissionStatus.PENDING, set_aside_at__isnull=True)
            .order_by(F("checked_at").asc(nulls_first=True), "id")
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            return 0
        return sum(rows_handle(queue=SUBMISSIONS_QUEUE, items=ids, handle=_submissions_apply_ids))


def _submissions_apply_ids(ids: list[int]) -> int:
    applied = 0
    waiting: list[int] = []
    for submission in Submission.objects.filter(pk__in=ids).select_related("message").order_by("id"):
        lookup = {"email": submission.email} if submission.email else {"phone": submission.phone}
        profile = profiles_lookup(anonymous_id=submission.anonymous_id, **lookup).first()
        if profile is None:
            waiting.append(submission.pk)  # its identify is not processed yet; a later pass takes it
            continue
        for c in submission.consents:
            consent_set(
                profile=profile, channel=c["channel"], topic=c["topic"], granted=True, method=CONSENT_METHOD,
                detail=f"on-site message {submission.message_id} ({submission.message.name})",
            )  # fmt: skip
        submission.status, submission.profile, submission.applied_at = (
            SubmissionStatus.APPLIED, profile, timezone.now()
        )  # fmt: skip
        submission.save(update_fields=["status", "profile", "applied_at"])
        applied += 1
    if waiting:
        Submission.objects.filter(pk__in=waiting).update(checked_at=timezone.now())
    return applied
