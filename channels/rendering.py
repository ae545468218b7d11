"""Rendering a template variant for one message: Liquid in strict mode, then our tracking links.

The result is kept in two forms: the final content, and a *skeleton* in which everything specific
to the recipient (unsubscribe link, open pixel, click links, trait and data values) is a token such
as `%vy_u%`, with a substitution map token → value. Final = skeleton with the substitutions applied.
Messages from one variant whose skeletons are identical can share a single provider request
(SendGrid personalizations with substitutions); anything else is sent on its own. Either way the
recipient receives exactly the final content.

A render error (unknown variable, bad syntax, a filter failing, invalid JSON for webhooks) raises
RenderError with a message naming the field and position; nothing half-rendered is ever sent.

Fast path for email (dispatch renders thousands a second). A variant whose fields are only text
and plain `{{ a.b.c }}` outputs, optionally `| default: 'text'` (no tags, no other filters: most
marketing emails) is compiled once into an *email plan*: literal pieces and variable slots, and
the tracked skeleton shared by every recipient. Per message we then only look up the values, build the final content exactly as Liquid
and the link tracking would, and check that it equals the shared skeleton with this recipient's
substitutions. Any value that is not a plain string or integer, or contains "%", and any template
the plan does not cover, goes through the full Liquid path; a message whose content would differ
from the shared skeleton is sent on its own. So the recipient always receives what Liquid renders.
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
from liquid.builtin.content import ContentNode
from liquid.builtin.expressions.arguments import PositionalArgument
from liquid.builtin.expressions.filtered import FilteredExpression
from liquid.builtin.expressions.path import Path
from liquid.builtin.expressions.primitive import StringLiteral
from liquid.builtin.output import OutputNode
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
    # Messages with the same batch key share one skeleton, and every substitution is used in it
    # (set by the email fast path; empty: the adapter compares skeletons itself).
    batch_key: str = ""

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


# Segment's reserved traits are camelCase (identify's firstName, lastName); templates are usually
# written with snake_case names. Either spelling works in a template; a trait set under the other
# name wins over nothing, never over a value of its own.
TRAIT_ALIASES = {"first_name": "firstName", "last_name": "lastName", "created_at": "createdAt"}


def render_context(*, profile: Any, data: dict[str, Any], links: dict[str, str]) -> dict[str, Any]:
    traits = dict(profile.traits or {})
    for snake, camel in TRAIT_ALIASES.items():
        if traits.get(snake) in (None, "") and traits.get(camel) not in (None, ""):
            traits[snake] = traits[camel]
        elif traits.get(camel) in (None, "") and traits.get(snake) not in (None, ""):
            traits[camel] = traits[snake]
    if not traits.get("name") and traits.get("first_name"):
        traits["name"] = " ".join(str(traits[k]) for k in ("first_name", "last_name") if traits.get(k))
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
    if channel == Channel.EMAIL and message_id is not None:
        plan = _email_plan(
            variant.pk or 0, variant.updated_at.isoformat() if variant.updated_at else "", variant
        )
        if plan is not None:
            rendered = plan.render(context=context, profile_id=profile.pk, message_id=message_id)
            if rendered is not None:
                rendered.locale, rendered.variant_id = variant.locale, variant.pk
                return rendered
    return _render_liquid(
        variant=variant, channel=channel, profile=profile, data=data, context=context, message_id=message_id
    )


def _render_liquid(
    *,
    variant: TemplateVariant,
    channel: str,
    profile: Any,
    data: dict[str, Any],
    context: dict[str, Any],
    message_id: int | None,
) -> Rendered:
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


# The unsubscribe link we add to an email that has none, in the language of the variant sent.
UNSUBSCRIBE_WORDS = {
    "en": "Unsubscribe", "de": "Abmelden", "fr": "Se désabonner", "es": "Darse de baja",
    "it": "Annulla l'iscrizione", "nl": "Afmelden", "pt": "Cancelar inscrição", "pl": "Wypisz się",
    "sv": "Avregistrera", "da": "Afmeld", "nb": "Meld av", "fi": "Peru tilaus", "cs": "Odhlásit",
    "ja": "配信停止", "zh": "退订", "ko": "수신 거부", "tr": "Abonelikten çık",
}  # fmt: skip


def unsubscribe_word(locale: str) -> str:
    language = (locale or "en").lower().replace("_", "-").split("-")[0]
    return UNSUBSCRIBE_WORDS.get(language, UNSUBSCRIBE_WORDS["en"])


def unsubscribe_footer_html(locale: str) -> str:
    word = html_lib.escape(unsubscribe_word(locale))
    return f'<p style="font-size:12px"><a href="{TOKEN_UNSUBSCRIBE}">{word}</a></p>'


def unsubscribe_footer_text(locale: str) -> str:
    return f"\n\n{unsubscribe_word(locale)}: {TOKEN_UNSUBSCRIBE}"


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
            rendered.skeleton["text"] += unsubscribe_footer_text(rendered.locale)
        if html and TOKEN_UNSUBSCRIBE not in html:
            # Every email carries an unsubscribe link, whether or not the designer placed one.
            link = unsubscribe_footer_html(rendered.locale)
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


# --- the email fast path ------------------------------------------------------------------------
TOKEN_RE = re.compile(r"%vy_[a-z0-9]+%")
LINK_PATHS = {("unsubscribe_url",): TOKEN_UNSUBSCRIBE, ("preferences_url",): TOKEN_PREFERENCES}
_MISSING = object()
_plans: dict[tuple[int, str, str], _EmailPlan | None] = {}


@dataclass
class _EmailPlan:
    key: str
    # The variable slots: a path, and the literal of its `| default:` filter if it has one.
    paths: list[tuple[tuple[str, ...], str | None]]
    # Per field, the Liquid output as pieces: literal text, or the index of a variable in `paths`.
    raw: dict[str, list[str | int]]
    # The tracked skeleton every recipient shares, and the same split into (is_token, text) pieces.
    skeleton: dict[str, str]
    pieces: dict[str, list[tuple[bool, str]]]
    click_tokens: list[str]
    used: frozenset[str]
    sources: dict[str, Any]  # compiled Liquid per field, for the one-time cross-check
    checked: bool = False
    disabled: bool = False
    locale: str = ""  # the variant's: the unsubscribe footer speaks its language

    def render(self, *, context: dict[str, Any], profile_id: int, message_id: int) -> Rendered | None:
        """This message's Rendered, or None when it must take the full Liquid path."""
        if self.disabled:
            return None
        values: list[str] = []
        escaped: list[str] = []
        for path, fallback in self.paths:
            value: Any = context
            for segment in path:
                if type(value) is not dict:
                    return None  # Liquid's own rules for lists, strings, .size …
                value = value.get(segment, _MISSING)
                if value is _MISSING:
                    if segment in ("size", "first", "last"):
                        return None
                    break
            if fallback is not None and (
                value is _MISSING
                or value is None
                or value is False
                or (type(value) in (str, list, dict) and not value)
            ):
                # `| default: '…'`: a string literal, output as written (Liquid marks literals safe).
                if "%" in fallback:
                    return None
                values.append(fallback)
                escaped.append(fallback)
                continue
            kind = type(value)
            if kind is int:
                value = str(value)
            elif kind is not str or "%" in value:
                return None
            values.append(value)
            escaped.append(str(markupsafe.escape(value)))
        subject = _join(self.raw["subject"], values)
        html = _join(self.raw["html"], escaped)
        text = _join(self.raw["text"], values)
        if not self.checked and not self._agrees_with_liquid(context, subject, html, text):
            return None
        if not (html or text):
            return None  # the Liquid path raises the render error

        base = settings.PUBLIC_BASE_URL.rstrip("/")
        token = tokens.unsubscribe_token(profile_id=profile_id, channel=Channel.EMAIL, message_id=message_id)
        unsubscribe, preferences = f"{base}/u/{token}/", f"{base}/preferences/{token}/"
        open_url = tokens.open_url(message_id=message_id)
        # The final content, step by step as _track_links and substitute() produce it.
        clicks: list[str] = []
        if html:

            def replace_href(match: re.Match[str]) -> str:
                url = html_lib.unescape(match.group(3))
                if tokens.is_own_url(url):
                    return match.group(0)
                clicks.append(tokens.click_url(message_id=message_id, url=url))
                return f"{match.group(1)}{match.group(2)}{clicks[-1]}{match.group(2)}"

            html = HREF_RE.sub(replace_href, html)
            pixel = f'<img src="{open_url}" width="1" height="1" alt="" style="display:none">'
            html = html.replace("</body>", pixel + "</body>") if "</body>" in html else html + pixel
            if TOKEN_UNSUBSCRIBE not in html:
                link = unsubscribe_footer_html(self.locale)
                html = html.replace("</body>", link + "</body>") if "</body>" in html else html + link
            html = html.replace(TOKEN_UNSUBSCRIBE, unsubscribe).replace(TOKEN_PREFERENCES, preferences)
        if text:
            if TOKEN_UNSUBSCRIBE not in text:
                text += unsubscribe_footer_text(self.locale)
            text = text.replace(TOKEN_UNSUBSCRIBE, unsubscribe).replace(TOKEN_PREFERENCES, preferences)
        subject = subject.replace(TOKEN_UNSUBSCRIBE, unsubscribe).replace(TOKEN_PREFERENCES, preferences)
        content = {"subject": subject, "html": html, "text": text}
        headers = {
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }

        subs = {TOKEN_UNSUBSCRIBE: unsubscribe, TOKEN_PREFERENCES: preferences, TOKEN_OPEN: open_url}
        for i, value in enumerate(values):
            subs[f"%vy_h{i}%"] = escaped[i]
            subs[f"%vy_t{i}%"] = value
        if len(clicks) == len(self.click_tokens):
            subs.update(zip(self.click_tokens, clicks, strict=True))
            if all(
                "".join(subs[t] if is_token else t for is_token, t in self.pieces[name]) == content[name]
                for name in ("html", "text")
            ):
                used = {k: v for k, v in subs.items() if k in self.used}
                return Rendered(
                    content=content,
                    skeleton=self.skeleton,
                    substitutions=used,
                    headers=headers,
                    batch_key=self.key,
                )
        # Same content, but it cannot share the skeleton: it travels on its own.
        return Rendered(
            content=content,
            skeleton=dict(content),
            substitutions={},
            headers=headers,
            batch_key=f"solo:{message_id}",
        )

    def _agrees_with_liquid(self, context: dict[str, Any], subject: str, html: str, text: str) -> bool:
        """Once per plan: the pieces must give exactly what Liquid renders, or the plan is dropped."""
        try:
            liquid = {
                name: (t.render(**context) if t is not None else "") for name, t in self.sources.items()
            }
        except Exception:
            liquid = {}
        if liquid != {"subject": subject, "html": html, "text": text}:
            self.disabled = True
            return False
        self.checked = True
        return True


def _join(pieces: list[str | int], values: list[str]) -> str:
    return "".join(values[p] if type(p) is int else p for p in pieces)  # type: ignore[index,misc]


def _plain_pieces(template: Any, paths: list[tuple[tuple[str, ...], str | None]]) -> list[str | int] | None:
    """Literal text and plain variable outputs (optionally `| default: 'text'`); anything else → None."""
    pieces: list[str | int] = []
    for node in template.nodes:
        if type(node) is ContentNode:
            if "%vy" in node.text:
                return None
            pieces.append(node.text)
            continue
        if type(node) is not OutputNode:
            return None
        expression = node.expression
        if type(expression) is not FilteredExpression or len(expression.filters) > 1:
            return None
        left = expression.left
        if type(left) is not Path or not all(type(s) is str for s in left.path):
            return None
        fallback = None
        if expression.filters:
            fallback = _default_literal(expression.filters[0])
            if fallback is None:
                return None
        slot = (tuple(left.path), fallback)
        if fallback is None and slot[0] in LINK_PATHS:
            pieces.append(LINK_PATHS[slot[0]])
            continue
        if slot not in paths:
            paths.append(slot)
        pieces.append(paths.index(slot))
    return pieces


def _default_literal(liquid_filter: Any) -> str | None:
    """The text of `default: 'text'` (one string argument, nothing else); None for any other filter."""
    if liquid_filter.name != "default" or len(liquid_filter.args) != 1:
        return None
    argument = liquid_filter.args[0]
    if type(argument) is not PositionalArgument or type(argument.value) is not StringLiteral:
        return None
    return str(argument.value.value)


def _email_plan(variant_id: int, stamp: str, variant: TemplateVariant) -> _EmailPlan | None:
    cache_key = (variant_id, stamp, settings.PUBLIC_BASE_URL)
    if cache_key in _plans:
        return _plans[cache_key]
    plan = _email_plan_build(variant_id, stamp, variant) if variant_id else None
    if len(_plans) > 512:
        _plans.clear()
    _plans[cache_key] = plan
    return plan


def _email_plan_build(variant_id: int, stamp: str, variant: TemplateVariant) -> _EmailPlan | None:
    paths: list[tuple[tuple[str, ...], str | None]] = []
    raw: dict[str, list[str | int]] = {}
    sources: dict[str, Any] = {}
    for name in EMAIL_FIELDS:
        source = getattr(variant, name) or ""
        if not source:
            raw[name], sources[name] = [], None
            continue
        try:
            compiled = _compiled(variant_id, stamp, name, source)
        except LiquidError:
            return None
        pieces = _plain_pieces(compiled, paths)
        if pieces is None:
            return None
        raw[name], sources[name] = pieces, compiled

    def tokens_for(name: str) -> str:
        mark = "h" if name == "html" else "t"
        return "".join(f"%vy_{mark}{p}%" if type(p) is int else p for p in raw[name])  # type: ignore[str-bytes-safe]

    # The shared skeleton: the Liquid output with variable slots as tokens, through _track_links.
    skeleton = {name: tokens_for(name) for name in EMAIL_FIELDS}
    rendered = Rendered(content={}, skeleton=skeleton, substitutions={}, locale=variant.locale)
    _track_links(rendered, channel=Channel.EMAIL, message_id=0)
    click_tokens = [t for t in rendered.substitutions if t.startswith("%vy_c")]
    pieces = {
        name: [
            (bool(TOKEN_RE.fullmatch(part)), part)
            for part in re.split(f"({TOKEN_RE.pattern})", skeleton[name])
            if part
        ]
        for name in ("html", "text")
    }
    used = frozenset(t for name in ("html", "text") for is_token, t in pieces[name] if is_token)
    return _EmailPlan(
        key=f"plan:{variant_id}:{stamp}",
        paths=paths,
        raw=raw,
        skeleton=skeleton,
        pieces=pieces,
        click_tokens=click_tokens,
        used=used,
        sources=sources,
        locale=variant.locale,
    )
