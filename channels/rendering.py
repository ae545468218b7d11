"""Rendering a template variant for one message: Liquid in strict mode, then our tracking links.

The result is kept in two forms: the final content, and a *skeleton* in which everything specific
to the recipient (unsubscribe link, open pixel, click links, trait and data values) is a token such
as `%vy_u%`, with a substitution map token → value. Final = skeleton with the substitutions applied.
Messages from one variant whose skeletons are identical can share a single provider request
(SendGrid personalizations with substitutions); anything else is sent on its own. Either way the
recipient receives exactly the final content.

A render error (unknown variable, bad syntax, a filter failing, invalid JSON for webhooks) raises
RenderError with a message naming the field and position; nothing half-rendered is ever sent.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import markupsafe
from django.conf import settings
from liquid import Environment, StrictDefaultUndefined
from liquid.exceptions import LiquidError

from channels import tokens
from channels.models import Template, TemplateVariant
from tracking.models import Channel

TOKEN_UNSUBSCRIBE = "%vy_u%"
TOKEN_PREFERENCES = "%vy_p%"
TOKEN_OPEN = "%vy_o%"
EMAIL_FIELDS = ("subject", "html", "text")
FIELDS_BY_CHANNEL = {
    Channel.EMAIL: EMAIL_FIELDS,
    Channel.SMS: ("body",),
    Channel.WHATSAPP: ("body",),
    Channel.PUSH: ("title", "body", "deep_link", "image"),
    Channel.WEBPUSH: ("title", "body", "deep_link", "image"),
    Channel.WEBHOOK: ("json_body",),
}
HREF_RE = re.compile(r"""(href\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)
TEXT_URL_RE = re.compile(r"https?://[^\s<>\"']+")

_html_env = Environment(undefined=StrictDefaultUndefined, autoescape=True)
_text_env = Environment(undefined=StrictDefaultUndefined, autoescape=False)


class RenderError(Exception):
    """A template that cannot be rendered for this message; the text says which field and why."""


@dataclass
class Rendered:
    content: dict[str, str]
    skeleton: dict[str, str]
    substitutions: dict[str, str] = field(default_factory=dict)
    locale: str = ""
    variant_id: int | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def json_body(self) -> Any:
        return json.loads(self.content.get("json_body") or "null")


@lru_cache(maxsize=512)
def _compiled(variant_id: int, updated_at: str, field_name: str, source: str) -> Any:
    env = _html_env if field_name == "html" else _text_env
    return env.from_string(source)


def variant_for(
    template: Template, locale: str, variants: list[TemplateVariant] | None = None
) -> TemplateVariant:
    """The profile's locale, then its language, then the template's default locale, then any variant."""
    options = variants if variants is not None else list(template.variants.all())
    if not options:
        raise RenderError(f"template {template.slug!r} has no content variants")
    by_locale = {v.locale.lower(): v for v in options}
    wanted = (locale or "").lower().replace("_", "-")
    for candidate in (wanted, wanted.split("-")[0], template.default_locale.lower()):
        if candidate and candidate in by_locale:
            return by_locale[candidate]
    return options[0]


def render_context(*, profile: Any, data: dict[str, Any], links: dict[str, str]) -> dict[str, Any]:
    traits = dict(profile.traits or {})
    profile_vars = {
        **traits,
        "id": profile.pk,
        "locale": profile.locale,
        "timezone": profile.timezone,
        "country": profile.country,
        "tags": list(profile.tags or []),
        "traits": traits,
    }
    return {
        "profile": profile_vars,
        "traits": traits,
        "data": data,
        "event": data.get("event") or {},
        **links,
    }


def render_variant(
    *,
    variant: TemplateVariant,
    channel: str,
    profile: Any,
    data: dict[str, Any],
    message_id: int | None,
) -> Rendered:
    links = {"unsubscribe_url": TOKEN_UNSUBSCRIBE, "preferences_url": TOKEN_PREFERENCES}
    context = render_context(profile=profile, data=data or {}, links=links)
    skeleton: dict[str, str] = {}
    stamp = variant.updated_at.isoformat() if variant.updated_at else ""
    for name in FIELDS_BY_CHANNEL.get(channel, ()):
        source = getattr(variant, name) or ""
        if not source:
            skeleton[name] = ""
            continue
        try:
            skeleton[name] = _compiled(variant.pk or 0, stamp, name, source).render(**context)
        except LiquidError as exc:
            first_line = str(exc).splitlines()[0]
            raise RenderError(f"{name}: {first_line}") from None
        except Exception as exc:  # a filter blowing up on odd data is still this message's render error
            raise RenderError(f"{name}: {type(exc).__name__}: {exc}") from None
    if channel == Channel.EMAIL and not (skeleton.get("html") or skeleton.get("text")):
        raise RenderError("html/text: an email needs an HTML or a text body")
    if channel in (Channel.SMS, Channel.WHATSAPP) and not skeleton.get("body", "").strip():
        raise RenderError("body: renders to an empty message")
    if channel == Channel.WEBHOOK:
        try:
            json.loads(skeleton.get("json_body") or "")
        except ValueError as exc:
            raise RenderError(f"json_body: not valid JSON after rendering ({exc})") from None

    subs: dict[str, str] = {}
    if message_id is not None:
        # One signed token serves both pages (same claim, different path).
        token = tokens.unsubscribe_token(profile_id=profile.pk, channel=channel, message_id=message_id)
        base = settings.PUBLIC_BASE_URL.rstrip("/")
        subs[TOKEN_UNSUBSCRIBE] = f"{base}/u/{token}/"
        subs[TOKEN_PREFERENCES] = f"{base}/preferences/{token}/"
    rendered = Rendered(content={}, skeleton=skeleton, substitutions=subs, locale=variant.locale)
    rendered.variant_id = variant.pk
    if message_id is not None:
        _track_links(rendered, channel=channel, message_id=message_id)
        if channel == Channel.EMAIL:
            _personal_values_tokenize(rendered, profile=profile, data=data or {})
    rendered.content = {k: substitute(v, rendered.substitutions) for k, v in skeleton.items()}
    if channel == Channel.EMAIL and message_id is not None:
        unsub = rendered.substitutions[TOKEN_UNSUBSCRIBE]
        rendered.headers = {
            "List-Unsubscribe": f"<{unsub}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    return rendered


def substitute(text: str, subs: dict[str, str]) -> str:
    if "%vy_" not in text:
        return text
    return re.sub(r"%vy_[a-z0-9]+%", lambda m: subs.get(m.group(0), m.group(0)), text)


def _track_links(rendered: Rendered, *, channel: str, message_id: int) -> None:
    """Links become per-recipient click redirects; emails get an open pixel."""
    counter = {"n": 0}
    subs = rendered.substitutions

    def token_for(url: str) -> str:
        token = f"%vy_c{counter['n']}%"
        counter["n"] += 1
        subs[token] = tokens.click_url(message_id=message_id, url=url)
        return token

    if channel == Channel.EMAIL:
        html = rendered.skeleton.get("html", "")
        if html:

            def replace_href(match: re.Match[str]) -> str:
                url = html_lib.unescape(match.group(3))
                if tokens.is_own_url(url):
                    return match.group(0)
                return f"{match.group(1)}{match.group(2)}{token_for(url)}{match.group(2)}"

            html = HREF_RE.sub(replace_href, html)
            pixel = f'<img src="{TOKEN_OPEN}" width="1" height="1" alt="" style="display:none">'
            html = html.replace("</body>", pixel + "</body>") if "</body>" in html else html + pixel
            subs[TOKEN_OPEN] = tokens.open_url(message_id=message_id)
            rendered.skeleton["html"] = html
        if rendered.skeleton.get("text") and TOKEN_UNSUBSCRIBE not in rendered.skeleton["text"]:
            rendered.skeleton["text"] += f"\n\nUnsubscribe: {TOKEN_UNSUBSCRIBE}"
        if html and TOKEN_UNSUBSCRIBE not in html:
            # Every email carries an unsubscribe link, whether or not the designer placed one.
            link = f'<p style="font-size:12px"><a href="{TOKEN_UNSUBSCRIBE}">Unsubscribe</a></p>'
            html = rendered.skeleton["html"]
            rendered.skeleton["html"] = (
                html.replace("</body>", link + "</body>") if "</body>" in html else html + link
            )
    elif channel in (Channel.SMS, Channel.WHATSAPP) and settings.CHANNELS_TRACK_SMS_LINKS:
        body = rendered.skeleton.get("body", "")

        def replace_url(match: re.Match[str]) -> str:
            url = match.group(0)
            return match.group(0) if tokens.is_own_url(url) else token_for(url)

        rendered.skeleton["body"] = TEXT_URL_RE.sub(replace_url, body)


def _scalar_values(prefix: str, value: Any, out: dict[str, str], depth: int = 0) -> None:
    if len(out) >= 40 or depth > 2:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _scalar_values(f"{prefix}.{key}", item, out, depth + 1)
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        text = str(value)
        if len(text) >= 2 and "%vy" not in text:
            out[prefix] = text


def _personal_values_tokenize(rendered: Rendered, *, profile: Any, data: dict[str, Any]) -> None:
    """Replace trait/data values found in the email body by tokens, so identical designs share a request.

    Safe by construction: the final content is the skeleton with these exact values substituted back.
    """
    values: dict[str, str] = {}
    _scalar_values("t", profile.traits or {}, values)
    _scalar_values("d", data, values)
    if not values:
        return
    ordered = sorted(values.items(), key=lambda kv: -len(kv[1]))
    for name in ("html", "text"):
        text = rendered.skeleton.get(name, "")
        if not text:
            continue
        before = substitute(text, rendered.substitutions)
        added: dict[str, str] = {}
        for path, raw in ordered:
            form = str(markupsafe.escape(raw)) if name == "html" else raw
            if form in text:
                token = f"%vy_{hashlib.blake2s((name + path).encode(), digest_size=5).hexdigest()}%"
                text = text.replace(form, token)
                added[token] = form
        # A value that overlapped a token would change the content: then this part stays as it was.
        if added and substitute(text, {**rendered.substitutions, **added}) == before:
            rendered.substitutions.update(added)
            rendered.skeleton[name] = text
