"""Demo content for channels: sandbox providers on every channel, a frequency cap, and templates
(email welcome / gift / recommendations / win-back coupon, an SMS, a push) in English and German.

Called by `manage.py load_demo` (tracking.demo.loader) after the shoppers exist; safe to call twice.
Sends a handful of welcome emails through the sandbox so the outbox, timelines and profile events
show a full loop without any credentials.
"""

from __future__ import annotations

from typing import TextIO

from django.db import transaction

from channels.models import ChannelSettings, FrequencyCap, Template, TemplateVariant

BRAND = "Voyage Demo Store"
LAYOUT = (
    '<html><body style="font-family:Arial,sans-serif;max-width:600px;margin:auto">'
    '<h2 style="color:#234">{title}</h2>{body}'
    '<p style="font-size:12px;color:#777">'
    + BRAND
    + ' · <a href="{{{{ preferences_url }}}}">Preferences</a></p>'
    "</body></html>"
)

TEMPLATES = [
    {
        "slug": "welcome",
        "name": "Welcome email",
        "channel": "email",
        "topic": "marketing",
        "en": {
            "subject": "Welcome to " + BRAND + ", {{ profile.first_name | default: 'friend' }}!",
            "title": "Welcome, {{ profile.first_name | default: 'friend' }}",
            "body": "<p>Thanks for joining us. Here is 10% off your first order: <b>WELCOME10</b>.</p>"
            '<p><a href="https://shop.example.com/new?utm_campaign=welcome">See what is new</a></p>',
        },
        "de": {
            "subject": "Willkommen bei " + BRAND + ", {{ profile.first_name | default: 'Freund' }}!",
            "title": "Willkommen, {{ profile.first_name | default: 'Freund' }}",
            "body": "<p>Danke für deine Anmeldung. 10 % Rabatt auf deine erste Bestellung: <b>WELCOME10</b>.</p>"
            '<p><a href="https://shop.example.com/de/neu?utm_campaign=welcome">Neuheiten ansehen</a></p>',
        },
    },
    {
        "slug": "gift",
        "name": "Birthday gift",
        "channel": "email",
        "topic": "marketing",
        "en": {
            "subject": "A gift for you, {{ profile.first_name | default: 'friend' }}",
            "title": "Happy birthday!",
            "body": "<p>Your gift: free shipping with code <b>{{ data.code | default: 'GIFT' }}</b> this week.</p>"
            '<p><a href="https://shop.example.com/gift">Pick something nice</a></p>',
        },
    },
    {
        "slug": "recommendations",
        "name": "Recommendations",
        "channel": "email",
        "topic": "marketing",
        "en": {
            "subject": "Picked for you, {{ profile.first_name | default: 'friend' }}",
            "title": "You might like",
            # Journeys send it without data: no products means the bestsellers link, not a render error.
            "body": "{% assign products = data.products | default: nil %}"
            '<ul>{% for p in products %}<li><a href="{{ p.url }}">{{ p.name }}</a> — {{ p.price }}</li>'
            '{% else %}<li><a href="https://shop.example.com/bestsellers">Our bestsellers</a></li>{% endfor %}</ul>',
        },
    },
    {
        "slug": "win-back",
        "name": "Win-back coupon",
        "channel": "email",
        "topic": "marketing",
        "en": {
            "subject": "We miss you — 15% off until {{ data.expires | default: 'Sunday' }}",
            "title": "Come back for 15% off",
            "body": "<p>Use <b>{{ data.coupon | default: 'COMEBACK15' }}</b> at checkout.</p>"
            '<p><a href="https://shop.example.com/?coupon=COMEBACK15">Shop now</a></p>',
        },
    },
]


def load_demo(*, stdout: TextIO) -> None:
    with transaction.atomic():
        for channel in ("email", "sms", "whatsapp", "push", "webpush"):
            ChannelSettings.objects.get_or_create(
                channel=channel,
                defaults={
                    "provider": "sandbox",
                    "options": {"from_email": "shop@example.com", "from_name": BRAND},
                },
            )
        FrequencyCap.objects.get_or_create(
            scope="global", channel="", defaults={"max_messages": 3, "days": 7}
        )
        for spec in TEMPLATES:
            template, _ = Template.objects.update_or_create(
                slug=spec["slug"],
                defaults={"name": spec["name"], "channel": spec["channel"], "topic": spec["topic"]},
            )
            for locale in ("en", "de"):
                content = spec.get(locale)
                if content:
                    html = LAYOUT.format(title=content["title"], body=content["body"])
                    TemplateVariant.objects.update_or_create(
                        template=template,
                        locale=locale,
                        defaults={"subject": content["subject"], "html": html, "text": ""},
                    )
        sms, _ = Template.objects.update_or_create(
            slug="sms-flash-sale", defaults={"name": "Flash sale SMS", "channel": "sms", "topic": "marketing"}
        )
        TemplateVariant.objects.update_or_create(
            template=sms,
            locale="en",
            defaults={
                "body": "{{ profile.first_name | default: 'Hi' }}, flash sale: 20% off today only "
                "https://shop.example.com/flash Reply STOP to opt out"
            },
        )
        push, _ = Template.objects.update_or_create(
            slug="push-back-in-stock",
            defaults={"name": "Back in stock push", "channel": "push", "topic": "marketing"},
        )
        TemplateVariant.objects.update_or_create(
            template=push,
            locale="en",
            defaults={
                "title": "Back in stock",
                "body": "{{ data.product | default: 'Your favourite' }} is back.",
                "deep_link": "voyage://product/{{ data.sku | default: 'bestsellers' }}",
            },
        )
    sent = _welcome_some(limit=25)
    stdout.write(
        f"Channels: sandbox providers, {Template.objects.count()} templates, {sent} welcome emails sent.\n"
    )


def _welcome_some(*, limit: int) -> int:
    from channels.dispatch import dispatch_until_idle
    from channels.services import message_enqueue
    from tracking.models import Profile

    profiles = Profile.objects.filter(
        contact_points__channel="email", contact_points__active=True
    ).distinct()[:limit]
    with transaction.atomic():
        for profile in profiles:
            message_enqueue(
                profile_id=profile.pk,
                channel="email",
                template_slug="welcome",
                campaign_kind="broadcast",
                idempotency_key=f"demo-welcome-{profile.pk}",
            )
    return dispatch_until_idle(timeout=60).sent
