"""The demo store's lifecycle journey: new → activated → engaged → at risk → churned → won back.

Called by `manage.py load_demo` after the channels demo. It publishes the journey and replays the
shoppers' history into it: every "Signed Up" event already stored enrolls its profile (keyed by that
event, so loading twice enrolls nobody twice) and the engine catches up to now, so the admin shows runs
spread over the stages exactly as if the journey had been live all along.
"""

from __future__ import annotations

from typing import TextIO

from django.utils import timezone

from journeys.models import Journey
from journeys.services.entry import EntryCandidate, runs_enroll
from journeys.services.versions import journey_create, version_publish
from tracking.models import Event

# Templates the journey sends; the channels demo provides them, these stand in when it did not run.
TEMPLATES = {
    "welcome-gift": ("Welcome gift", "Welcome, {{ profile.first_name | default: 'friend' }}: 10% off your first order",
                     "Use code WELCOME10 at checkout — valid for 14 days."),
    "recommendations": ("Recommendations", "Picked for you, {{ profile.first_name | default: 'friend' }}",
                        "New arrivals in the categories you looked at."),
    "win-back-coupon": ("Win-back coupon", "We miss you — 20% off to come back",
                        "Use code COMEBACK20 within 7 days."),
}  # fmt: skip

LIFECYCLE = {
    "slug": "lifecycle",
    "name": "Lifecycle: new → activated → engaged → at risk → churned → won back",
    "entry": {"event": "Signed Up"},
    "reentry": "never",
    "goal": {"event": "Order Completed", "within_days": 30},
    "holdout_percent": 10,
    "stages": [
        {"key": "new",
         "actions": [{"tag": {"add": "lifecycle-new"}},
                     {"send": {"channel": "email", "template": "welcome-gift", "topic": "marketing"}}],
         "transitions": [{"to": "activated", "on_event": {"event": "Order Completed"}},
                         {"to": "churned", "after": {"days": 14, "at": "10:00"}}]},
        {"key": "activated",
         "actions": [{"tag": {"remove": "lifecycle-new"}}, {"tag": {"add": "lifecycle-activated"}}],
         "transitions": [{"to": "engaged", "after": {"days": 2, "at": "10:00"}}]},
        {"key": "engaged",
         "actions": [{"tag": {"remove": "lifecycle-activated"}}, {"tag": {"remove": "lifecycle-at-risk"}},
                     {"tag": {"add": "lifecycle-engaged"}},
                     {"send": {"channel": "email", "template": "recommendations", "topic": "marketing"}}],
         "transitions": [{"to": "engaged", "on_event": {"event": "Order Completed"}},
                         {"to": "at-risk", "after": {"days": 45}}]},
        {"key": "at-risk",
         "actions": [{"tag": {"remove": "lifecycle-engaged"}}, {"tag": {"add": "lifecycle-at-risk"}}],
         "transitions": [{"to": "engaged", "on_event": {"event": "Order Completed"}},
                         {"to": "churned", "after": {"days": 45}}]},
        {"key": "churned",
         "actions": [{"tag": {"remove": "lifecycle-at-risk"}}, {"tag": {"remove": "lifecycle-new"}},
                     {"tag": {"add": "lifecycle-churned"}},
                     {"send": {"channel": "email", "template": "win-back-coupon", "topic": "marketing"}}],
         "transitions": [{"to": "won-back", "on_event": {"event": "Order Completed"}},
                         {"to": "lost", "after": {"days": 60}}]},
        {"key": "won-back",
         "actions": [{"tag": {"remove": "lifecycle-churned"}}, {"tag": {"add": "lifecycle-won-back"}}],
         "transitions": [{"to": "engaged", "after": {"days": 7}}]},
        {"key": "lost", "actions": [{"tag": {"add": "lifecycle-lost"}}], "exit": True},
    ],
}  # fmt: skip


def _templates_ensure(stdout: TextIO) -> None:
    from channels.models import Template, TemplateVariant

    for slug, (name, subject, text) in TEMPLATES.items():
        template, created = Template.objects.get_or_create(
            slug=slug, defaults={"name": name, "channel": "email"}
        )
        if created:
            TemplateVariant.objects.create(
                template=template, locale="en", subject=subject, text=text, html=f"<p>{text}</p>"
            )
            stdout.write(f"  template {slug} (the channels demo did not provide it)\n")


def load_demo(*, stdout: TextIO) -> None:
    stdout.write("Journeys: the lifecycle journey over the demo store\n")
    _templates_ensure(stdout)
    journey = Journey.objects.filter(slug=LIFECYCLE["slug"]).first()
    if journey is None:
        journey = journey_create(definition=LIFECYCLE)
        first_signup = Event.objects.filter(name="Signed Up").order_by("timestamp").first()
        published = first_signup.timestamp if first_signup else timezone.now()
        version_publish(version=journey.versions.get(), now=published)
        journey.refresh_from_db()
    signups = Event.objects.filter(name="Signed Up", profile__isnull=False).order_by("timestamp")
    result = runs_enroll(
        journey=journey,
        candidates=(EntryCandidate(pid, f"event:{eid}", at) for eid, pid, at in signups.values_list("id", "profile_id", "timestamp")),
        wake=False,
    )  # fmt: skip
    from journeys.services.clock import due_work_run

    summary = due_work_run(now=timezone.now())
    stdout.write(
        f"  {result.created} shoppers enrolled from their sign-up; {summary['transitions']} stage changes "
        f"replayed up to now\n"
    )
