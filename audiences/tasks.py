"""Thin Celery tasks for audiences: they take ids and call a service."""

from __future__ import annotations

from celery import shared_task

from audiences.services import membership


@shared_task(name="audiences.events_reevaluate", ignore_result=True)
def events_reevaluate_task(*, event_ids: list[int], profile_ids: list[int]) -> int:
    """After a processed batch: note new names, re-evaluate its profiles against affected audiences."""
    from audiences.catalogue import catalogue_note_events
    from audiences.services.reevaluation import events_reevaluate

    catalogue_note_events(event_ids=event_ids)
    return events_reevaluate(event_ids=event_ids, profile_ids=profile_ids)


@shared_task(name="audiences.profiles_changed", ignore_result=True)
def profiles_changed_task(*, profile_ids: list[int]) -> int:
    audience_ids = membership.audiences_affected(traits=True, tags=True, consent=True)
    return membership.profiles_reevaluate(profile_ids=profile_ids, audience_ids=audience_ids)


@shared_task(name="audiences.audience_refresh", ignore_result=True)
def audience_refresh_task(audience_id: int) -> int:
    result = membership.audience_refresh(audience_id=audience_id)
    return len(result.entered) + len(result.exited)


@shared_task(name="audiences.refresh_due", ignore_result=True)
def audiences_refresh_due_task() -> int:
    """Beat tick: full refreshes that are due (their schedule, or moving time windows)."""
    ids = membership.audiences_refresh_due()
    for audience_id in ids:
        membership.audience_refresh(audience_id=audience_id)
    return len(ids)


@shared_task(name="audiences.computed_tags", ignore_result=True)
def computed_tags_task() -> int:
    from audiences.services.computed_tags import computed_tags_recompute

    return computed_tags_recompute()
