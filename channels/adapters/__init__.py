"""Provider adapters, one module each, and how a channel finds its configured adapter.

Credentials come from the channel's settings in the admin; a secret left empty there falls back to
an environment variable (SENDGRID_API_KEY, TWILIO_ACCOUNT_SID, …). A channel with no settings row
uses VOYAGE_<CHANNEL>_PROVIDER from the environment, if set.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings

from channels.adapters.base import Adapter
from channels.adapters.fcm import FcmAdapter
from channels.adapters.sandbox import SandboxAdapter
from channels.adapters.sendgrid import SendGridAdapter
from channels.adapters.twilio import TwilioAdapter
from channels.adapters.webpush import WebPushAdapter

ADAPTERS: dict[str, type[Adapter]] = {
    a.provider: a for a in (SandboxAdapter, SendGridAdapter, TwilioAdapter, FcmAdapter, WebPushAdapter)
}
# Secret name → environment variable used when the admin leaves it empty.
SECRET_ENV: dict[str, dict[str, str]] = {
    "sendgrid": {"api_key": "SENDGRID_API_KEY", "webhook_public_key": "SENDGRID_WEBHOOK_PUBLIC_KEY"},
    "twilio": {"account_sid": "TWILIO_ACCOUNT_SID", "auth_token": "TWILIO_AUTH_TOKEN"},
    "fcm": {"service_account": "FCM_SERVICE_ACCOUNT_JSON"},
    "webpush": {"vapid_private_key": "VAPID_PRIVATE_KEY"},
    "sandbox": {},
}
SECRET_NAMES = {provider: tuple(names) for provider, names in SECRET_ENV.items()}


def provider_secrets(provider: str, stored: dict[str, Any] | None) -> dict[str, Any]:
    stored = stored or {}
    merged = {k: v for k, v in stored.items() if v}
    for name, env_name in SECRET_ENV.get(provider, {}).items():
        if not merged.get(name) and os.environ.get(env_name):
            merged[name] = os.environ[env_name]
    return merged


def channel_config(channel: str) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """(provider, options, secrets) for a channel, or None when it is not configured or disabled."""
    from channels.models import ChannelSettings

    row = ChannelSettings.objects.filter(channel=channel).first()
    if row is None:
        provider = os.environ.get(f"VOYAGE_{channel.upper()}_PROVIDER", "")
        if provider not in ADAPTERS:
            return None
        return provider, {}, provider_secrets(provider, {})
    if not row.enabled:
        return None
    return row.provider, dict(row.options or {}), provider_secrets(row.provider, row.secrets)


def adapter_for(channel: str) -> Adapter | None:
    config = channel_config(channel)
    if config is None:
        return None
    provider, options, secrets = config
    cls = ADAPTERS[provider]
    if channel not in cls.channels:
        return None
    return cls(options=options, secrets=secrets, timeout=settings.CHANNELS_HTTP_TIMEOUT)


def channel_connection_check(*, channel: str) -> tuple[bool, str]:
    """The admin's "test connection": the channel's saved provider and credentials (with their
    environment fallbacks) against the provider, sending nothing. (ok, what it confirmed or what failed)."""
    from channels.adapters.base import ProviderError
    from channels.models import ChannelSettings

    row = ChannelSettings.objects.filter(channel=channel).first()
    if row is None:
        return False, f"{channel}: no settings saved yet"
    cls = ADAPTERS[row.provider]
    if channel not in cls.channels:
        return False, f"{row.get_provider_display()} does not send {channel}"
    adapter = cls(
        options=dict(row.options or {}),
        secrets=provider_secrets(row.provider, row.secrets),
        timeout=settings.CHANNELS_HTTP_TIMEOUT,
    )
    try:
        return True, adapter.connection_check()
    except ProviderError as exc:
        return False, str(exc)
