"""The demo's on-site messages (load_demo calls this after the journeys): two live messages on the
demo store's web source, and its small shop page (/onsite/demo/shop/, served by Voyage while DEBUG or
ONSITE_DEMO_SHOP is on) that embeds the snippet, so a new user sees a pop-up within a minute."""

from __future__ import annotations

from typing import TextIO

from django.conf import settings

from journeys.onsite.models import Kind, Message, Status, Trigger, Variant, Who
from journeys.onsite.services import messages_cache_clear
from tracking.models import Source
from tracking.origins import origin_normalize


def load_demo(*, stdout: TextIO) -> None:
    source = Source.objects.filter(name="web").first()
    if source is None:
        return
    # The demo shop page is served by Voyage itself: its origin is Voyage's.
    origin = origin_normalize(settings.PUBLIC_BASE_URL)
    if origin not in (source.allowed_origins or []):
        source.allowed_origins = [*(source.allowed_origins or []), origin]
        source.save(update_fields=["allowed_origins"])
    signup, _ = Message.objects.update_or_create(
        name="Demo: sign-up offer",
        defaults=dict(
            source=source, kind=Kind.MODAL, status=Status.ACTIVE, priority=10, trigger=Trigger.DELAY,
            trigger_seconds=10, who=Who.ANONYMOUS, form_email=True, once_per_session=True,
            consents=[{"channel": "email", "topic": "marketing", "label": "Email me offers and news"}],
            goal_event="Order Completed", goal_days=7, holdout_percent=10,
        ),
    )  # fmt: skip
    Variant.objects.update_or_create(
        message=signup, arm="A", locale="en",
        defaults=dict(headline="10% off your first order", body="Sign up and we email you the code.",
                      coupon_code="WELCOME10", submit_label="Send me the code", success_text="Check your inbox!"),
    )  # fmt: skip
    Variant.objects.update_or_create(
        message=signup, arm="B", locale="en",
        defaults=dict(headline="Join the club: 10% off today", body="One email a week, the best teas.",
                      coupon_code="WELCOME10", submit_label="Join", success_text="Welcome aboard!"),
    )  # fmt: skip
    category, _ = Message.objects.update_or_create(
        name="Demo: offer for coupon lovers",
        defaults=dict(
            source=source, kind=Kind.SLIDE_IN, status=Status.ACTIVE, priority=20, trigger=Trigger.PAGE_LOAD,
            required_tags=["coupon_sensitivity:high"], once_per_session=True, max_views=3,
            goal_event="Order Completed", goal_days=7,
        ),
    )  # fmt: skip
    Variant.objects.update_or_create(
        message=category, arm="A", locale="en",
        defaults=dict(headline="{{ profile.first_name | default: 'Hello' }}, a coupon just for you",
                      body="15% off this week's picks.", coupon_code="PICKS15", cta_label="See the picks",
                      cta_url="/onsite/demo/shop/"),
    )  # fmt: skip
    messages_cache_clear()
    stdout.write("On-site messages: a sign-up offer (anonymous visitors, after 10 s) and a coupon offer\n")
    stdout.write(f"  open the demo shop page: {settings.PUBLIC_BASE_URL}/onsite/demo/shop/\n")
