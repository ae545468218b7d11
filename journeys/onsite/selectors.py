"""Reads for on-site messages.

- `visitor_facts`: what the decide endpoint needs to know about the visitor, in one round trip.
- `message_results`: results of an on-site message per arm (and its holdout): who saw it, closed,
  clicked, submitted, converted (its goal event within goal_days of first seeing it, or of being held
  out) and the revenue of those conversions per currency; the same significance test as the other
  campaign reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from django.db import connection
from django.db.models import Count, Min
from django.utils import timezone

from journeys.onsite.models import POPUP_KINDS, Interaction, InteractionKind, Message
from journeys.reports.stats import Verdict, ab_verdict
from tracking.models import Event, Identity, IdentityKind

# --- the visitor, for the decide endpoint ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seen:
    """What the visitor did with one message, as far as its caps care."""

    views: int
    first_view: datetime | None
    last_view: datetime | None
    submitted: bool
    clicked: bool
    held: bool  # a holdout was recorded for them
    in_session: bool  # viewed in the page's session


NOTHING_SEEN = Seen(
    views=0, first_view=None, last_view=None, submitted=False, clicked=False, held=False, in_session=False
)


@dataclass(frozen=True, slots=True)
class ProfileFacts:
    """The profile's fields content may use (what channels.rendering.render_context reads)."""

    pk: int | None
    traits: dict[str, Any]
    tags: list[Any]
    locale: str
    timezone: str
    country: str


@dataclass(frozen=True, slots=True)
class VisitorFacts:
    profile: ProfileFacts | None
    known: bool  # the profile has a user id, email or phone
    seen: dict[int, Seen]  # by message id, the candidates' only
    recent_popup: bool  # a pop-up was viewed on another page within the site-wide gap
    audience_ids: frozenset[int]  # of those asked, the audiences the profile is in
    computed_tags: frozenset[str]
    queued: dict[int, datetime]  # of the candidates, those journeys queued for the profile (-> when)


def _loaded(value: Any) -> Any:
    # The database layer hands JSON columns over as text (Django parses them in the ORM).
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _int_array(values: list[int]) -> str:
    """Ids (ints, from our own rows) as a PostgreSQL array literal."""
    # Sent as an array literal: adapting a Python list element by element costs more than the query.
    return "{" + ",".join(map(str, values)) + "}"


_POPUP_KINDS = "{" + ",".join(POPUP_KINDS) + "}"


def visitor_facts(
    *,
    user_id: str,
    anonymous_id: str,
    message_ids: list[int],
    audience_ids: list[int],
    with_tags: bool,
    session_id: str,
    page_view_id: str,
    since: datetime,
    gap_since: datetime,
    now: datetime,
) -> VisitorFacts:
    """The visitor of a page view in one round trip (the onsite_visitor function, migration 0003):
    the profile of the (already verified) user id, else of the browser's anonymous id; their
    interactions since `since` with the candidate messages; whether a pop-up was viewed on another
    page view after `gap_since`; their memberships among `audience_ids`; their computed tags when
    `with_tags`; the candidates journeys queued for the profile and not yet expired at `now`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT * FROM onsite_visitor(%s, %s, %s::bigint[], %s::bigint[], %s, %s, %s, %s, %s, %s::text[], %s)",
            [user_id or None, anonymous_id or None, _int_array(message_ids), _int_array(audience_ids), with_tags,
             session_id or None, page_view_id, since, gap_since, _POPUP_KINDS, now],
        )  # fmt: skip
        row = cursor.fetchone()
    (pk, traits, tags, locale, zone, country, known, ids, views, first_view, last_view, submitted,
     clicked, held, in_session, recent_popup, audiences, computed, queued_ids, queued_at) = row  # fmt: skip
    profile = None
    if pk is not None:
        traits, tags = _loaded(traits), _loaded(tags)
        profile = ProfileFacts(
            pk=pk,
            traits=traits if isinstance(traits, dict) else {},
            tags=tags if isinstance(tags, list) else [],
            locale=locale or "",
            timezone=zone or "",
            country=country or "",
        )
    seen = {
        ids[i]: Seen(
            views=views[i],
            first_view=first_view[i],
            last_view=last_view[i],
            submitted=submitted[i],
            clicked=clicked[i],
            held=held[i],
            in_session=in_session[i],
        )  # fmt: skip
        for i in range(len(ids or ()))
    }
    return VisitorFacts(
        profile=profile,
        known=bool(known),
        seen=seen,
        recent_popup=bool(recent_popup),
        audience_ids=frozenset(audiences or ()),
        computed_tags=frozenset(computed or ()),
        queued=dict(zip(queued_ids or (), queued_at or (), strict=True)),
    )


@dataclass
class ArmResult:
    arm: str
    impressions: int = 0  # views in all (a visitor may see it more than once)
    visitors: int = 0  # saw it (or, for the holdout, were held out)
    closes: int = 0
    clicks: int = 0
    submits: int = 0
    conversions: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)  # per currency, never added across

    @property
    def conversion_rate(self) -> float | None:
        return self.conversions / self.visitors if self.visitors else None


@dataclass
class MessageResults:
    arms: list[ArmResult]
    verdict: Verdict
    metric: str


def _visitor(row: dict[str, Any]) -> str:
    return f"p{row['profile_id']}" if row["profile_id"] else f"a{row['anonymous_id']}"


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def message_results(
    *, message: Message, start: date | None = None, end: date | None = None
) -> MessageResults:
    """Per arm; `start`/`end` (inclusive days, the workspace's zone) limit the interactions counted."""
    interactions = Interaction.objects.filter(message=message)
    if start:
        interactions = interactions.filter(at__gte=_day_start(start))
    if end:
        interactions = interactions.filter(at__lt=_day_start(end + timedelta(days=1)))
    views = dict(
        interactions.filter(kind=InteractionKind.VIEW).values_list("arm").annotate(n=Count("id")).order_by()
    )
    rows = list(interactions.values("arm", "kind", "profile_id", "anonymous_id").annotate(first=Min("at")))
    # A browser's first view may come before its anonymous id had a profile: count it as the person
    # it now belongs to, so one visitor is one visitor and a later conversion is theirs.
    unresolved = {r["anonymous_id"] for r in rows if not r["profile_id"] and r["anonymous_id"]}
    if unresolved:
        resolved = dict(
            Identity.objects.filter(kind=IdentityKind.ANONYMOUS_ID, value__in=unresolved).values_list(
                "value", "profile_id"
            )
        )
        for row in rows:
            if not row["profile_id"]:
                row["profile_id"] = resolved.get(row["anonymous_id"])
    by_arm: dict[str, ArmResult] = {}
    exposed: dict[str, dict[str, Any]] = {}  # visitor -> {arm, first, profile_id}
    seen_kind: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        who = _visitor(row)
        arm = by_arm.setdefault(row["arm"], ArmResult(row["arm"]))
        seen_kind.setdefault((row["arm"], row["kind"]), set()).add(who)
        if row["kind"] in (InteractionKind.VIEW, InteractionKind.HOLDOUT):
            current = exposed.get(who)
            if current is None or row["first"] < current["first"]:
                exposed[who] = {"arm": arm.arm, "first": row["first"], "profile_id": row["profile_id"]}
    for (arm_name, kind), visitors in seen_kind.items():
        arm = by_arm[arm_name]
        if kind in (InteractionKind.VIEW, InteractionKind.HOLDOUT):
            arm.visitors = len(visitors)
        elif kind == InteractionKind.CLOSE:
            arm.closes = len(visitors)
        elif kind == InteractionKind.CLICK:
            arm.clicks = len(visitors)
        elif kind == InteractionKind.SUBMIT:
            arm.submits = len(visitors)
    if message.goal_event:
        by_profile = {e["profile_id"]: e for e in exposed.values() if e["profile_id"]}
        if by_profile:
            goals = Event.objects.filter(
                profile_id__in=list(by_profile), name=message.goal_event
            ).values_list("profile_id", "timestamp", "properties")
            converted: set[int] = set()
            for profile_id, at, props in goals.order_by("timestamp"):
                exp = by_profile[profile_id]
                if profile_id in converted or not message.converts(first_seen=exp["first"], at=at):
                    continue
                converted.add(profile_id)
                arm = by_arm[exp["arm"]]
                arm.conversions += 1
                try:
                    amount = Decimal(str((props or {}).get("revenue", (props or {}).get("total", 0)) or 0))
                except InvalidOperation:
                    amount = Decimal(0)
                currency = str((props or {}).get("currency") or "?").upper()
                if amount:
                    arm.revenue[currency] = arm.revenue.get(currency, Decimal(0)) + amount
    for arm in by_arm.values():
        arm.impressions = views.get(arm.arm, 0)
    arms = sorted(by_arm.values(), key=lambda a: (a.arm == "holdout", a.arm))
    metric = (
        "conversion"
        if message.goal_event
        else ("submit" if message.form_email or message.form_phone else "click")
    )
    value = {"conversion": "conversions", "submit": "submits", "click": "clicks"}[metric]
    verdict = ab_verdict(
        [(a.arm, getattr(a, value), a.visitors) for a in arms if a.arm != "holdout"], metric=f"{metric}_rate"
    )
    return MessageResults(arms=arms, verdict=verdict, metric=metric)
