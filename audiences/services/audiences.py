"""Creating, changing and previewing audiences. A rule is validated before it is saved or run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from audiences.compiler import profiles_matching
from audiences.models import Audience, AudienceKind
from audiences.rules import RuleInvalid, RuleIssue, RuleReport, audience_references, validate_rule
from audiences.services.membership import audience_next_refresh
from tracking.models import Channel, Consent, ConsentStatus, ContactPoint, Profile

AUDIENCE_FIELDS = ("slug", "name", "description", "kind", "rule", "refresh_every_minutes")


def audience_rule_check(*, rule: Any, slug: str | None = None, kind: str = AudienceKind.RULE) -> RuleReport:
    if kind == AudienceKind.STATIC:
        return RuleReport()
    return validate_rule(rule, audience_slug=slug)


def _refresh_on_commit(audience: Audience) -> None:
    if audience.kind == AudienceKind.RULE:
        from audiences.tasks import audience_refresh_task

        audience_id = audience.pk
        transaction.on_commit(lambda: audience_refresh_task.delay(audience_id))


@transaction.atomic
def audience_create(
    *,
    slug: str,
    name: str,
    rule: Any = None,
    kind: str = AudienceKind.RULE,
    description: str = "",
    refresh_every_minutes: int = 60,
) -> Audience:
    rule = rule if rule is not None else {}
    report = audience_rule_check(rule=rule, slug=slug, kind=kind)
    if not report.ok:
        raise RuleInvalid(report)
    audience = Audience(
        slug=slug,
        name=name,
        rule=rule,
        kind=kind,
        description=description,
        refresh_every_minutes=refresh_every_minutes,
    )
    audience.next_refresh_at = audience_next_refresh(audience=audience, now=timezone.now())
    audience.save()
    _refresh_on_commit(audience)
    return audience


@transaction.atomic
def audience_update(*, audience: Audience, **changes: Any) -> Audience:
    unknown = set(changes) - set(AUDIENCE_FIELDS)
    if unknown:
        raise TypeError(f"unknown audience fields: {', '.join(sorted(unknown))}")
    for key, value in changes.items():
        setattr(audience, key, value)
    report = audience_rule_check(rule=audience.rule, slug=audience.slug, kind=audience.kind)
    if not report.ok:
        raise RuleInvalid(report)
    audience.next_refresh_at = audience_next_refresh(audience=audience, now=timezone.now())
    audience.save()
    if {"rule", "kind"} & set(changes):
        _refresh_on_commit(audience)
    return audience


def audience_delete(*, audience: Audience) -> None:
    users = [
        slug
        for slug, rule in Audience.objects.exclude(pk=audience.pk).values_list("slug", "rule")
        if audience.slug in audience_references(rule)
    ]
    if users:
        raise RuleInvalid(
            RuleReport(errors=[RuleIssue("audience", f"still used by: {', '.join(sorted(users))}")])
        )
    audience.delete()


@dataclass
class Preview:
    count: int
    sample: list[dict[str, Any]]
    reachable: dict[str, int]
    report: RuleReport = field(default_factory=RuleReport)


def reachable_counts(profiles: Any) -> dict[str, int]:
    """Per channel, how many of these profiles have an active contact point and did not withdraw consent."""
    aggregates = {}
    for channel in Channel.values:
        has_point = Exists(
            ContactPoint.objects.filter(profile_id=OuterRef("pk"), channel=channel, active=True)
        )
        withdrew = Exists(
            Consent.objects.filter(
                profile_id=OuterRef("pk"), channel=channel, topic="marketing", status=ConsentStatus.WITHDRAWN
            )
        )
        aggregates[channel] = Count("pk", filter=Q(has_point) & ~Q(withdrew))
    return profiles.order_by().aggregate(**aggregates)


def audience_preview(
    *, rule: Any, slug: str | None = None, now: datetime | None = None, sample_size: int = 20
) -> Preview:
    """What a rule would select right now, without saving anything: count, sample, reach per channel."""
    report = validate_rule(rule, audience_slug=slug)
    if not report.ok:
        raise RuleInvalid(report)
    matching = profiles_matching(rule, now=now)
    sample = [
        {"id": p.pk, "name": str(p), "email": (p.traits or {}).get("email", ""), "country": p.country}
        for p in matching.order_by("-id")[:sample_size]
    ]
    return Preview(count=matching.count(), sample=sample, reachable=reachable_counts(matching), report=report)


def profile_summary(profile: Profile) -> dict[str, Any]:
    return {"id": profile.pk, "name": str(profile), "country": profile.country}
