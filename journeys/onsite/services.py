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
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from liquid import Environment
from liquid.exceptions import LiquidError

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
from journeys.onsite.selectors import NOTHING_SEEN, ProfileFacts, Seen, VisitorFacts, visitor_facts
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
    return _signing_secret(settings.SECRET_KEY, source.write_key)


@lru_cache(maxsize=256)
def _signing_secret(secret_key: str, write_key: str) -> str:
    # Checked on every page view of a logged-in shopper: derived once per key.
    return hmac.new(
        secret_key.encode(), f"voyage-onsite-user:{write_key}".encode(), hashlib.sha256
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
#
# Every page view of the shop asks once (POST /v1/onsite/decide), so this path is kept lean:
#   1. the site's messages that may show on this page: compiled once per site and kept a few seconds
#      in-process, filtered by the rules that need nothing about the visitor (URL, device, new or
#      returning, UTM) — no query, and nothing more to do when none is left;
#   2. the visitor, in one round trip (selectors.visitor_facts): profile, known or not, what they did
#      with these messages, the recent pop-up, memberships and computed tags;
#   3. the visitor's candidates: targeting and caps (`visitor_candidates`);
#   4. one message per place, the arm and the holdout;
#   5. rendering, of the chosen messages only.


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
    """The visitor as the interaction and form endpoints record them (with the Profile row)."""

    profile: Profile | None
    personal: bool  # may content use this profile's traits
    known: bool
    key: str  # stable bucketing key for A/B and holdout
    identities: dict[str, str] = field(default_factory=dict)


def _verified_user_id(*, source: Source, context: PageContext) -> str:
    signed = user_id_verified(source=source, user_id=context.user_id, signature=context.user_id_signature)
    return context.user_id if signed else ""


def visitor_resolve(*, source: Source, context: PageContext) -> Visitor_:
    """Who is asking: a signed user id, else the browser's anonymous id; unsigned user ids are ignored.
    One query."""
    user_id = _verified_user_id(source=source, context=context)
    profile, known = _profile_of(user_id=user_id, anonymous_id=context.anonymous_id)
    key = user_id or context.anonymous_id
    return Visitor_(profile=profile, personal=profile is not None, known=known, key=key,
                    identities={"anonymousId": context.anonymous_id, **({"userId": user_id} if user_id else {})})  # fmt: skip


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _profile_of(*, user_id: str, anonymous_id: str) -> tuple[Profile | None, bool]:
    """The profile of the signed user id, else of the anonymous id, and whether it is known (a user
    id, email or phone), in one round trip: the instance carries what recording needs."""
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


# --- 1. the site's messages, compiled ---------------------------------------------------------------

_FIELDS = ("headline", "body", "cta_label", "cta_url", "coupon_code", "submit_label", "success_text")
# What content is rendered against when the visitor has no profile (or an unsigned user id): an empty
# profile, so nothing personal can leak, and the same output for every such visitor.
_NO_PROFILE = ProfileFacts(pk=None, traits={}, tags=[], locale="", timezone="", country="")


@dataclass(slots=True)
class CompiledVariant:
    """One arm in one locale, its fields parsed once (parsing is most of a render's cost)."""

    arm: str
    coupon_code: str
    image_url: str  # https only, else empty
    fields: dict[str, Any]  # name -> plain text, or its parsed Liquid template
    personal: bool  # some field is a template: its output may depend on the profile
    # The output for visitors without a profile: the same for all of them, so rendered once.
    without_profile: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class UrlRule:
    match: str  # contains, equals, regex
    value: str
    pattern: re.Pattern[str] | None  # regex rules, compiled


@dataclass(frozen=True, slots=True)
class Candidate:
    """An active message as deciding needs it: rules first, then what the answer carries."""

    id: int
    kind: str
    popup: bool
    place: str  # pop-ups share a budget; bars one per edge; blocks one per selector
    device: str
    visitor: str
    utm_source: str  # lower-cased
    includes: tuple[UrlRule, ...]
    excludes: tuple[UrlRule, ...]
    any_page: bool  # no UTM or URL rule: every page of the site
    who: str
    audience_id: int | None
    required_tags: frozenset[str]
    once_per_session: bool
    min_days_between: int | None
    max_views: int | None
    stop_after_submit: bool
    stop_after_click: bool
    stop_after_conversion: bool
    goal_event: str
    goal_days: int
    holdout_percent: int
    arms: tuple[tuple[str, int], ...]  # by name, with the arm's weight (its variants' highest)
    total_weight: int
    variants: dict[str, dict[str, CompiledVariant]]  # arm -> lower-cased locale -> variant
    answer: dict[str, Any]  # the answer's parts that are the same for every visitor


@lru_cache(maxsize=4096)
def _field_compiled(text: str) -> Any:
    """A field's parsed template, by its text: the site's messages are recompiled every few seconds,
    their templates parsed again only when changed (a parsed template is only read when rendered)."""
    if "{" not in text:
        return text
    try:
        return _text_env.from_string(text)
    except LiquidError:
        return ""  # saved before validation existed: shows nothing rather than a broken box


def _variant_compiled(variant: Variant) -> CompiledVariant:
    fields = {name: _field_compiled(getattr(variant, name) or "") for name in _FIELDS}
    return CompiledVariant(
        arm=variant.arm,
        coupon_code=variant.coupon_code,
        image_url=variant.image_url if variant.image_url.startswith("https://") else "",
        fields=fields,
        personal=any(not isinstance(f, str) for f in fields.values()),
    )


def _url_rule(rule: Any) -> UrlRule | None:
    """A rule as saved; one that is malformed (saved before validation existed) never matches."""
    if not isinstance(rule, dict) or rule.get("match") not in _URL_MATCHES:
        return None
    value = rule.get("value")
    if not isinstance(value, str) or not value:
        return None
    pattern = None
    if rule["match"] == "regex":
        try:
            pattern = re.compile(value)
        except re.error:
            return None
    return UrlRule(match=rule["match"], value=value, pattern=pattern)


def _answer(message: Message) -> dict[str, Any]:
    """The answer's parts that are the same for every visitor (kind, place, trigger, form)."""
    consents = message.consents if isinstance(message.consents, list) else []
    return {
        "id": message.pk,
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
        "form": {
            "email": message.form_email,
            "phone": message.form_phone,
            "consents": [
                {"key": f"{c['channel']}:{c.get('topic') or 'marketing'}", "label": c["label"]}
                for c in consents
                if isinstance(c, dict) and "channel" in c and "label" in c
            ],
        },
    }


def _candidate(message: Message) -> Candidate:
    rules = message.url_rules if isinstance(message.url_rules, list) else []
    includes, excludes = [], []
    for rule in rules:
        compiled = _url_rule(rule)
        (excludes if isinstance(rule, dict) and rule.get("exclude") else includes).append(compiled)
    arms: dict[str, int] = {}
    by_arm: dict[str, dict[str, CompiledVariant]] = {}
    for v in message.variants.all():  # prefetched, in the model's order (arm, locale)
        arms[v.arm] = max(arms.get(v.arm, 0), v.weight)
        by_arm.setdefault(v.arm, {})[v.locale.lower()] = _variant_compiled(v)
    tags = message.required_tags if isinstance(message.required_tags, list) else []
    return Candidate(
        id=message.pk,
        kind=message.kind,
        popup=message.kind in POPUP_KINDS,
        place=message.embed_selector if message.kind == Kind.EMBEDDED else message.kind,
        device=message.device,
        visitor=message.visitor,
        utm_source=message.utm_source.lower(),
        # A malformed include matches nothing (the message is not shown); a malformed exclude
        # excludes nothing.
        includes=tuple(r or UrlRule(match="never", value="", pattern=None) for r in includes),
        excludes=tuple(r for r in excludes if r is not None),
        any_page=not (includes or any(r is not None for r in excludes)),
        who=message.who,
        audience_id=message.audience_id,
        required_tags=frozenset(t for t in tags if isinstance(t, str)),
        once_per_session=message.once_per_session,
        min_days_between=message.min_days_between,
        max_views=message.max_views,
        stop_after_submit=message.stop_after_submit,
        stop_after_click=message.stop_after_click,
        stop_after_conversion=message.stop_after_conversion and bool(message.goal_event.strip()),
        goal_event=message.goal_event.strip(),
        goal_days=message.goal_days,
        holdout_percent=message.holdout_percent,
        arms=tuple(sorted(arms.items())),
        total_weight=sum(arms.values()),
        variants=by_arm,
        answer=_answer(message),
    )


@dataclass(frozen=True, slots=True)
class SiteMessages:
    candidates: tuple[Candidate, ...]  # highest priority first
    # device -> the candidates whose device rule passes.
    by_device: dict[str, tuple[Candidate, ...]]


def _device_ok(c: Candidate, device: str) -> bool:
    return c.device == Device.ANY or c.device == device


def _visit_ok(c: Candidate, ctx: PageContext) -> bool:
    """New or returning visitor, and the UTM source: about the visitor, so a message a journey queued
    for this profile is shown past them (the journey chose the person)."""
    if c.visitor == Visitor.NEW and not ctx.new_visitor:
        return False
    if c.visitor == Visitor.RETURNING and ctx.new_visitor:
        return False
    return not (c.utm_source and c.utm_source != ctx.utm_source.lower())


_SITES: dict[int, tuple[float, SiteMessages]] = {}
_SITES_TTL = 5.0  # seconds: how long another process may show a paused or changed message
_SITES_REBUILD = threading.Lock()


def site_messages(*, source: Source) -> SiteMessages:
    """The source's active messages, compiled; cached a few seconds in-process (two queries when it
    is rebuilt: the messages and their variants)."""
    now = time.monotonic()
    hit = _SITES.get(source.pk)
    if hit and now - hit[0] < _SITES_TTL:
        return hit[1]
    # One thread of the process rebuilds; the others answer from what they had meanwhile, rather
    # than all queuing behind the same two queries.
    if not _SITES_REBUILD.acquire(blocking=hit is None):
        return hit[1]  # type: ignore[index]
    try:
        messages = (
            Message.objects.filter(source=source, status=Status.ACTIVE)
            .prefetch_related("variants")
            .order_by("-priority", "id")
        )
        candidates = tuple(_candidate(m) for m in messages)
        site = SiteMessages(
            candidates=candidates,
            by_device={
                device: tuple(c for c in candidates if _device_ok(c, device))
                for device in (Device.DESKTOP.value, Device.MOBILE.value)
            },
        )
        _SITES[source.pk] = (time.monotonic(), site)
        return site
    finally:
        _SITES_REBUILD.release()


def messages_cache_clear() -> None:
    """Forget every site's compiled messages (this process; the others within _SITES_TTL)."""
    _SITES.clear()


def _url_hit(rule: UrlRule, url: str, path: str) -> bool:
    if rule.match == "contains":
        return rule.value in url
    if rule.match == "equals":
        return url == rule.value or path == rule.value
    if rule.pattern is not None:
        return rule.pattern.search(url) is not None
    return False


def _page_ok(c: Candidate, ctx: PageContext) -> bool:
    """The page's URL rules (the device is sorted out beforehand)."""
    if not c.includes and not c.excludes:
        return True
    url = ctx.url
    path = urlsplit(url).path if any(r.match == "equals" for r in c.includes + c.excludes) else ""
    if c.includes and not any(_url_hit(r, url, path) for r in c.includes):
        return False
    return not any(_url_hit(r, url, path) for r in c.excludes)


def page_candidates(*, source: Source, context: PageContext) -> list[Candidate]:
    """Step 1: the messages that may show on this page, whoever asks; a preview forces its own on."""
    if context.preview is not None:
        forced = (
            Message.objects.filter(pk=context.preview, source=source).prefetch_related("variants").first()
        )
        return [_candidate(forced)] if forced else []
    site = site_messages(source=source)
    on_device = site.by_device.get(context.device)
    if on_device is None:
        on_device = tuple(c for c in site.candidates if _device_ok(c, context.device))
    return [c for c in on_device if c.any_page or _page_ok(c, context)]


# --- 3. the visitor's candidates: targeting and caps -------------------------------------------------


def _targeted(c: Candidate, facts: VisitorFacts, tags: frozenset[str], ctx: PageContext) -> bool:
    if not _visit_ok(c, ctx):
        return False
    if c.who == Who.ANONYMOUS and facts.known:
        return False
    if c.who == Who.KNOWN and not facts.known:
        return False
    if c.audience_id and c.audience_id not in facts.audience_ids:
        return False
    return not (c.required_tags and not c.required_tags <= tags)


def _capped(
    c: Candidate, seen: Seen, ctx: PageContext, now: datetime, *, converted: bool, pushed: bool
) -> bool:
    if c.stop_after_submit and seen.submitted:
        return True
    if c.stop_after_click and seen.clicked:
        return True
    if converted:
        return True
    if pushed:  # a journey's queued showing is once by itself (journeys/onsite/queue.py)
        return False
    if c.max_views is not None and seen.views >= c.max_views:
        return True
    if c.once_per_session and ctx.session_id and seen.in_session:
        return True
    return bool(
        c.min_days_between
        and seen.views
        and seen.last_view is not None
        and seen.last_view > now - timedelta(days=c.min_days_between)
    )


def visitor_candidates(
    *, candidates: list[Candidate], facts: VisitorFacts, context: PageContext, now: datetime
) -> list[Candidate]:
    """Step 3: of the page's candidates, those this visitor may see now (targeting, the message's
    caps, and the site-wide gap between pop-ups)."""
    # The computed tags (coupon_sensitivity:high, favourite_category:…, lifecycle:…) count as well
    # as the ones set by hand or by journeys.
    own = facts.profile.tags if facts.profile is not None else []
    tags = facts.computed_tags | {t for t in own if isinstance(t, str)}
    # Journeys' "show on the next visit" (journeys/onsite/queue.py): offered past who the visitor is,
    # once, and first, so it takes its place on the page.
    queued = queued_pending(queued=facts.queued, seen=facts.seen)
    converted = converted_messages(
        profile_id=facts.profile.pk if facts.profile is not None else None,
        capped={c.id: (c.goal_event, c.goal_days) for c in candidates if c.stop_after_conversion},
        seen=facts.seen,
    )
    eligible = [
        c
        for c in candidates
        if (c.id in queued or _targeted(c, facts, tags, context))
        and not _capped(
            c,
            facts.seen.get(c.id, NOTHING_SEEN),
            context,
            now,
            converted=c.id in converted,
            pushed=c.id in queued,
        )
        # Site-wide: a pop-up seen on an earlier page within the gap holds every pop-up back.
        and not (c.popup and facts.recent_popup)
    ]
    return sorted(eligible, key=lambda c: c.id not in queued)  # stable: priority order otherwise


# --- 4. one per place, the arm, the holdout -------------------------------------------------------


def _bucket(message_id: int, key: str, salt: str) -> int:
    digest = hashlib.sha256(f"{salt}:{message_id}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _one_per_place(candidates: list[Candidate]) -> list[Candidate]:
    """What one page view can show: a few pop-ups (each with its own trigger; the snippet shows the
    first that fires, at most one), one bar per edge, one block per selector; highest priority first."""
    out: list[Candidate] = []
    popups, most = 0, settings.ONSITE_POPUPS_PER_PAGE
    places: set[str] = set()
    for c in candidates:
        if c.popup:
            if popups >= most:
                continue
            popups += 1
        else:
            if c.place in places:
                continue
            places.add(c.place)
        out.append(c)
    return out


def _variant_pick(c: Candidate, key: str, locale: str) -> CompiledVariant | None:
    if c.total_weight <= 0:
        return None
    point = _bucket(c.id, key, "arm") % c.total_weight
    chosen = c.arms[-1][0]
    for arm, weight in c.arms:
        if point < weight:
            chosen = arm
            break
        point -= weight
    in_arm = c.variants[chosen]
    wanted = (locale or "").lower().replace("_", "-")
    for candidate in (wanted, wanted.split("-")[0], "en"):
        if candidate and candidate in in_arm:
            return in_arm[candidate]
    return next(iter(in_arm.values()))


# --- 5. rendering ---------------------------------------------------------------------------------


def _fields_render(variant: CompiledVariant, base: dict[str, Any]) -> dict[str, str]:
    context = {**base, "coupon": variant.coupon_code}
    out: dict[str, str] = {}
    for name, template in variant.fields.items():
        if isinstance(template, str):
            out[name] = template
            continue
        try:
            out[name] = template.render(**context)
        except Exception:  # a template that breaks on odd data shows nothing rather than a broken box
            out[name] = ""
    return out


class _Renderer:
    """The chosen variants' text for one visitor: their own profile's when they have one (unsigned
    user ids never get one), else what every visitor without a profile gets, rendered once per
    variant. The profile's context is built once for all the messages of the answer."""

    def __init__(self, *, profile: ProfileFacts | None, source: Source) -> None:
        self.profile, self.source = profile, source
        self._base: dict[str, Any] | None = None

    def content(self, variant: CompiledVariant) -> dict[str, str]:
        if not variant.personal:
            out = dict(variant.fields)
        elif self.profile is not None:
            if self._base is None:
                self._base = render_context(profile=self.profile, data={}, links={})
            out = _fields_render(variant, self._base)
        else:
            if variant.without_profile is None:
                variant.without_profile = _fields_render(
                    variant, render_context(profile=_NO_PROFILE, data={}, links={})
                )
            out = dict(variant.without_profile)
        if out["cta_url"] and not _url_allowed(out["cta_url"], source=self.source):
            out["cta_url"] = ""
        out["image_url"] = variant.image_url
        return out


def message_preview(*, message: Message, variant: Variant, profile: Profile | None, source: Source) -> dict:
    """What decide would answer for this (possibly unsaved) message and variant, for the designer's
    preview: the same answer parts, compiled templates and renderer as the public path."""
    facts = None
    if profile is not None:
        facts = ProfileFacts(
            pk=profile.pk,
            traits=profile.traits if isinstance(profile.traits, dict) else {},
            tags=profile.tags if isinstance(profile.tags, list) else [],
            locale=profile.locale or "",
            timezone=profile.timezone or "",
            country=profile.country or "",
        )
    content = _Renderer(profile=facts, source=source).content(_variant_compiled(variant))
    return {**_answer(message), "arm": variant.arm, "content": content}


def _holdouts_record(rows: list[Interaction]) -> None:
    """Record first-time holdouts without waiting for the disk: synchronous_commit is off for this
    one transaction. A commit that waits for the WAL flush costs a few ms, tens at the tail on a busy
    machine, on a path every page view may take; a holdout lost in a database crash is recorded again
    at the visitor's next page view (it is written only when none is found)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        Interaction.objects.bulk_create(rows)


def messages_decide(*, source: Source, context: PageContext) -> list[dict[str, Any]]:
    """The messages this visitor may see on this page, rendered; records holdouts (once per visitor)."""
    candidates = page_candidates(source=source, context=context)
    if not candidates:
        return []
    now = timezone.now()
    user_id = _verified_user_id(source=source, context=context)
    facts = visitor_facts(
        user_id=user_id,
        anonymous_id=context.anonymous_id,
        message_ids=[c.id for c in candidates],
        audience_ids=[c.audience_id for c in candidates if c.audience_id],
        with_tags=any(c.required_tags for c in candidates),
        session_id=context.session_id,
        page_view_id=context.page_view_id,
        since=now - timedelta(days=400),
        gap_since=now - timedelta(seconds=settings.ONSITE_POPUP_MIN_GAP_SECONDS),
        now=now,
    )
    if context.preview is None:
        candidates = visitor_candidates(candidates=candidates, facts=facts, context=context, now=now)
    key = user_id or context.anonymous_id
    chosen: list[tuple[Candidate, CompiledVariant]] = []
    held: list[Interaction] = []
    # The places are taken before the holdout: a held-out visitor sees nothing where the message
    # would have been (and is counted only for messages they would have been shown).
    for c in _one_per_place(candidates):
        variant = _variant_pick(c, key, context.locale)
        if variant is None:
            continue
        if (
            context.preview is None
            and c.holdout_percent
            and _bucket(c.id, key, "holdout") % 100 < c.holdout_percent
        ):
            if not facts.seen.get(c.id, NOTHING_SEEN).held:
                held.append(
                    Interaction(
                        message_id=c.id,
                        arm="holdout",
                        kind=InteractionKind.HOLDOUT,
                        profile_id=facts.profile.pk if facts.profile else None,
                        anonymous_id=context.anonymous_id,
                        session_id=context.session_id,
                        page_view_id=context.page_view_id,
                        at=now,
                    )  # fmt: skip
                )
            continue
        chosen.append((c, variant))
    if held:
        _holdouts_record(held)
    renderer = _Renderer(profile=facts.profile, source=source)
    return [{**c.answer, "arm": v.arm, "content": renderer.content(v)} for c, v in chosen]


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
