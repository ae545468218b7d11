"""The on-site message designer's forms: every part of a message is a field (no JSON to type), and a
problem is named beside the field that has it (a form that accepts nonsense is a bug).

URL rules, consent checkboxes and tags are lists on the model; here they are rows of inputs, read back
into the lists by their widgets. Cross-field rules shared with every other writer stay in
services.message_validate; this module adds what only a form can say (which row, which line)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.forms.models import BaseInlineFormSet
from liquid import Environment
from liquid.exceptions import LiquidError

from audiences.models import Audience, ComputedTag
from channels.models import Template, Topic
from channels.rendering import render_context
from journeys.onsite.models import Kind, Message, Trigger, Variant
from journeys.onsite.services import message_validate
from tracking.models import Channel, Profile, Source

URL_MATCHES = (
    ("contains", "contains"),
    ("equals", "equals (whole URL or path)"),
    ("regex", "matches the regular expression"),
)
# The channels a form can collect an address for, and the field that collects it.
CONSENT_CHANNELS = {Channel.EMAIL: "form_email", Channel.SMS: "form_phone", Channel.WHATSAPP: "form_phone"}
DEFAULT_CONSENT_LABEL = {
    Channel.EMAIL: "Email me offers and news",
    Channel.SMS: "Text me offers",
    Channel.WHATSAPP: "Send me offers on WhatsApp",
}
# The snippet passes the selector to document.querySelector on the shop's page: anything outside
# plain selector syntax would throw there, so it is refused here.
_SELECTOR = re.compile(r"^[A-Za-z0-9_\-#.\[\]=\"':>+~*()^$|,\s]+$")
_ARM = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
# The same settings as the renderer (services._text_env): plain text, escaped by the snippet.
_liquid = Environment(autoescape=False)


# --- Liquid: which line ----------------------------------------------------------------------------


def liquid_problem(*, text: str) -> str | None:
    """None when `text` parses and renders against an empty profile, else the problem with its line."""
    if "{" not in text:
        return None
    try:
        template = _liquid.from_string(text)
        template.render(**render_context(profile=Profile(), data={}, links={}), coupon="CODE")
    except LiquidError as exc:
        token = getattr(exc, "token", None)
        start = getattr(token, "start_index", -1)
        line = text.count("\n", 0, start) + 1 if start is not None and start >= 0 else text.count("\n") + 1
        first = str(getattr(exc, "message", None) or exc).splitlines()[0]
        return f"line {line}: {first} (Liquid)"
    return None


# --- URL rules ---------------------------------------------------------------------------------------


def _indices(data: Any, name: str, suffix: str) -> list[int]:
    pattern = re.compile(rf"^{re.escape(name)}-(\d+)-{suffix}$")
    return sorted({int(m.group(1)) for key in data for m in [pattern.match(key)] if m})


class UrlRulesWidget(forms.Widget):
    """One row per rule (include/exclude, how it matches, the value) and an empty row to add one."""

    template_name = "onsite/widgets/url_rules.html"

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        rules = value if isinstance(value, list) else []
        rows = [*rules, {"match": "contains", "value": "", "exclude": False}]
        context["widget"]["rows"] = [
            {
                "index": i,
                "number": i + 1,
                "match": str(r.get("match") or "contains"),
                "value": str(r.get("value") or ""),
                "exclude": bool(r.get("exclude")),
            }
            for i, r in enumerate(rows)
            if isinstance(r, dict)
        ]
        context["widget"]["matches"] = URL_MATCHES
        return context

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[dict[str, Any]]:
        rules = []
        for i in _indices(data, name, "value"):
            value = str(data.get(f"{name}-{i}-value") or "").strip()
            if value:
                rules.append(
                    {
                        "match": str(data.get(f"{name}-{i}-match") or "contains"),
                        "value": value,
                        "exclude": data.get(f"{name}-{i}-mode") == "exclude",
                    }
                )
        return rules

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return False


class UrlRulesField(forms.Field):
    widget = UrlRulesWidget

    def to_python(self, value: Any) -> list[dict[str, Any]]:
        return value if isinstance(value, list) else []

    def validate(self, value: list[dict[str, Any]]) -> None:
        problems = []
        matches = {m for m, _ in URL_MATCHES}
        for number, rule in enumerate(value, start=1):
            if rule["match"] not in matches:
                problems.append(f"rule {number}: choose contains, equals or regex")
            elif len(rule["value"]) > 500:
                problems.append(f"rule {number}: at most 500 characters")
            elif rule["match"] == "regex":
                try:
                    re.compile(rule["value"])
                except re.error as exc:
                    problems.append(f"rule {number}: not a valid regular expression ({exc})")
        if problems:
            raise ValidationError(problems)


# --- consent checkboxes ------------------------------------------------------------------------------


def consent_options(*, offered: list[dict[str, Any]] | None = None) -> list[tuple[str, str]]:
    """(channel, topic) pairs a form may offer: the channels a form collects an address for, times the
    topics that exist (marketing, and those of the channels' templates), plus what the message has."""
    topics = {str(Topic.MARKETING)} | set(
        Template.objects.filter(channel__in=list(CONSENT_CHANNELS)).values_list("topic", flat=True)
    )
    pairs = {(str(c), t) for c in CONSENT_CHANNELS for t in topics}
    for c in offered or []:
        if isinstance(c, dict) and c.get("channel"):
            pairs.add((str(c["channel"]), str(c.get("topic") or Topic.MARKETING)))
    order = {str(c): i for i, c in enumerate(CONSENT_CHANNELS)}
    return sorted(pairs, key=lambda p: (order.get(p[0], 99), p[1] != Topic.MARKETING, p))


class ConsentsWidget(forms.Widget):
    """A row per channel and topic that exists: tick it to show the checkbox, with the label shown."""

    template_name = "onsite/widgets/consents.html"

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        offered = value if isinstance(value, list) else []
        chosen = {
            (str(c.get("channel")), str(c.get("topic") or Topic.MARKETING)): str(c.get("label") or "")
            for c in offered
            if isinstance(c, dict)
        }
        labels = dict(Channel.choices)
        context["widget"]["rows"] = [
            {
                "index": i,
                "key": f"{channel}:{topic}",
                "channel": labels.get(channel, channel),
                "topic": topic,
                "on": (channel, topic) in chosen,
                "label": chosen.get((channel, topic))
                or (DEFAULT_CONSENT_LABEL.get(channel, "") if topic == Topic.MARKETING else "")
                or f"Send me {topic} messages by {labels.get(channel, channel)}",
            }
            for i, (channel, topic) in enumerate(consent_options(offered=offered))
        ]
        return context

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[dict[str, Any]]:
        out = []
        for i in _indices(data, name, "key"):
            if not data.get(f"{name}-{i}-on"):
                continue
            channel, _, topic = str(data.get(f"{name}-{i}-key") or "").partition(":")
            out.append(
                {
                    "channel": channel,
                    "topic": topic or str(Topic.MARKETING),
                    "label": str(data.get(f"{name}-{i}-label") or "").strip(),
                }
            )
        return out

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return False


class ConsentsField(forms.Field):
    widget = ConsentsWidget

    def to_python(self, value: Any) -> list[dict[str, Any]]:
        return value if isinstance(value, list) else []

    def validate(self, value: list[dict[str, Any]]) -> None:
        problems = []
        for c in value:
            where = f"{c['channel']} / {c['topic']}"
            if c["channel"] not in CONSENT_CHANNELS:
                problems.append(f"{where}: a form collects email or phone, not {c['channel']}")
            elif not c["label"]:
                problems.append(f"{where}: the checkbox needs a label (what the visitor agrees to)")
            elif len(c["label"]) > 300:
                problems.append(f"{where}: the label is longer than 300 characters")
        if problems:
            raise ValidationError(problems)


# --- tags --------------------------------------------------------------------------------------------


def known_tags(*, limit: int = 60) -> list[str]:
    """Computed tag names in use (coupon sensitivity, favourite category, lifecycle, RFM …)."""
    return list(ComputedTag.objects.order_by("name").values_list("name", flat=True).distinct()[:limit])


class TagsWidget(forms.TextInput):
    template_name = "onsite/widgets/tags.html"

    def format_value(self, value: Any) -> str:
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return str(value or "")

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"]["known"] = known_tags()
        return context


class TagsField(forms.CharField):
    widget = TagsWidget

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, list):
            return [str(v).strip() for v in value if str(v).strip()]
        tags = [t.strip() for t in str(value or "").split(",")]
        return list(dict.fromkeys(t for t in tags if t))

    def validate(self, value: Any) -> None:
        for tag in value:
            if len(tag) > 100:
                raise ValidationError(f"{tag[:20]}…: a tag is at most 100 characters")


# --- the message -------------------------------------------------------------------------------------

# Which number fields belong to which trigger: the others are cleared on save, so a message never
# carries a stale "10 seconds" under an exit-intent trigger.
TRIGGER_FIELDS = {
    Trigger.DELAY: ("trigger_seconds",),
    Trigger.PAGES: ("trigger_pages",),
    Trigger.SCROLL: ("trigger_scroll_percent",),
    Trigger.EVENT: ("trigger_event", "trigger_unless_event", "trigger_wait_minutes"),
}
ALL_TRIGGER_FIELDS = tuple(f for names in TRIGGER_FIELDS.values() for f in names)


def _number(
    label: str, low: int, high: int, help_text: str = "", required: bool = False, initial: int | None = None
) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=required,
        initial=initial,
        min_value=low,
        max_value=high,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"min": low, "max": high, "step": 1, "class": "vy-number"}),
    )


class MessageForm(forms.ModelForm):
    kind = forms.ChoiceField(choices=Kind.choices, label="Kind", widget=forms.RadioSelect)
    embed_selector = forms.CharField(
        required=False,
        max_length=200,
        label="CSS selector",
        help_text="The element on the shop's page the block goes into, e.g. #offer or .product-hero.",
    )
    trigger_seconds = _number("Seconds on the page", 1, 3600)
    trigger_pages = _number("Pages in the session", 1, 100, "Shown on this page view and later ones.")
    trigger_scroll_percent = _number("Scroll depth (%)", 1, 100)
    trigger_event = forms.CharField(
        required=False, max_length=200, label="Event", help_text="e.g. Product Added"
    )
    trigger_unless_event = forms.CharField(
        required=False,
        max_length=200,
        label="… and not followed by",
        help_text="Optional, e.g. Checkout Started",
    )
    trigger_wait_minutes = _number("… within (minutes)", 1, 1440)
    url_rules = UrlRulesField(
        required=False,
        label="Pages (URL rules)",
        help_text="Any include rule must match (none: every page); no exclude rule may match.",
    )
    utm_source = forms.CharField(
        required=False, max_length=200, label="UTM source", help_text="Only visits with this utm_source."
    )
    audience = forms.ModelChoiceField(
        queryset=Audience.objects.order_by("name"),
        required=False,
        label="Audience",
        empty_label="(any visitor)",
        error_messages={"invalid_choice": "no such audience: pick one of the existing audiences"},
        help_text="Only its members (known profiles).",
    )
    required_tags = TagsField(
        required=False,
        label="Profile tags (all required)",
        help_text="Comma-separated; click a tag below to add it.",
    )
    consents = ConsentsField(required=False, label="Consent checkboxes")
    min_days_between = _number("At most once every N days", 1, 365)
    max_views = _number("At most N views in all", 1, 1000)
    holdout_percent = _number("Holdout (%)", 0, 50, "Visitors who qualify but are shown nothing.", True, 0)
    goal_days = _number(
        "Conversion window (days)", 1, 90, "A conversion is the goal event within this many days.", True, 7
    )

    class Meta:
        model = Message
        fields = [f.name for f in Message._meta.fields if f.editable and not f.primary_key]
        labels = {
            "source": "Site (source)",
            "form_email": "Ask for an email address",
            "form_phone": "Ask for a phone number",
            "once_per_session": "Once per session",
            "stop_after_submit": "Stop after a submit",
            "stop_after_click": "Stop after a click",
            "stop_after_conversion": "Stop after a conversion",
            "goal_event": "Goal event",
            "who": "Who",
            "device": "Device",
            "visitor": "New or returning",
        }
        help_texts = {
            "form_email": "",
            "form_phone": "E.164, e.g. +14155550100; checked in the browser and on the server.",
            "goal_event": "A conversion, e.g. Order Completed (results count it per arm).",
            "stop_after_conversion": "Not shown again to a profile whose goal event followed a view within the window.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "source" in self.fields:
            self.fields["source"].error_messages["invalid_choice"] = "no such source: pick the shop's site"
            self.fields["source"].queryset = Source.objects.order_by("name")
        for name in ("trigger", "device", "visitor", "who"):
            if name in self.fields:
                self.fields[name].widget = forms.RadioSelect(choices=self.fields[name].choices)

    def clean_embed_selector(self) -> str:
        value = (self.cleaned_data.get("embed_selector") or "").strip()
        if value and (not _SELECTOR.match(value) or value.count("[") != value.count("]")):
            raise ValidationError("not a CSS selector the page can look up (e.g. #offer, .hero > div)")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        trigger = data.get("trigger")
        keep = TRIGGER_FIELDS.get(trigger, ()) if trigger else ALL_TRIGGER_FIELDS
        for name in ALL_TRIGGER_FIELDS:
            if name not in keep and name not in self.errors:
                data[name] = "" if name in ("trigger_event", "trigger_unless_event") else None
        if data.get("kind") and data.get("kind") != Kind.EMBEDDED and "embed_selector" not in self.errors:
            data["embed_selector"] = ""
        if (
            trigger == Trigger.EVENT
            and data.get("trigger_wait_minutes")
            and not data.get("trigger_unless_event")
        ):
            self.add_error("trigger_unless_event", "name the event that must not follow within the minutes")
        for c in data.get("consents") or []:
            needs = CONSENT_CHANNELS.get(c["channel"])
            if needs and not data.get(needs) and "consents" not in self.errors:
                what = "an email address" if needs == "form_email" else "a phone number"
                self.add_error("consents", f"{c['channel']} / {c['topic']}: the form must ask for {what}")
        names = {f.name for f in Message._meta.fields}
        candidate = Message(**{k: v for k, v in data.items() if k in names})
        try:
            message_validate(message=candidate)
        except ValidationError as exc:
            for name, problems in exc.message_dict.items():
                field = name if name in self.fields else None
                if field in self.errors:
                    continue  # already said, more precisely
                for problem in problems:
                    self.add_error(field, problem)
        return data


# --- content (A/B arms × locales) --------------------------------------------------------------------

LIQUID_FIELDS = ("headline", "body", "cta_label", "cta_url", "coupon_code", "submit_label", "success_text")


class VariantForm(forms.ModelForm):
    arm = forms.CharField(max_length=16, initial="A", label="Arm", help_text="A, B, …")
    weight = _number("Traffic (%)", 1, 100, "The arms' shares add up to 100.", True)
    locale = forms.CharField(max_length=35, initial="en", label="Locale", help_text="en, de, pt-BR …")
    image_url = forms.URLField(
        required=False,
        max_length=1000,
        assume_scheme="https",
        label="Image URL",
        help_text="https://… (shown above the headline)",
    )

    class Meta:
        model = Variant
        fields = [f.name for f in Variant._meta.fields if f.editable and not f.primary_key]
        widgets = {"body": forms.Textarea(attrs={"rows": 3})}
        labels = {
            "cta_label": "Call-to-action label",
            "cta_url": "Call-to-action URL",
            "coupon_code": "Coupon code",
            "submit_label": "Submit button",
            "success_text": "Thank-you text",
        }
        help_texts = {
            "headline": "Liquid, e.g. Hello {{ profile.first_name | default: 'there' }}",
            "body": "Liquid; {{ coupon }} is the coupon code.",
            "cta_url": "A path on the shop (/sale) or a URL on one of the source's allowed origins.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance.pk and "weight" in self.fields:
            self.fields["weight"].initial = 100

    def clean_arm(self) -> str:
        value = (self.cleaned_data.get("arm") or "").strip()
        if not _ARM.match(value):
            raise ValidationError("letters, digits, - or _ (e.g. A, B, control), at most 16")
        return value

    def clean_locale(self) -> str:
        value = (self.cleaned_data.get("locale") or "").strip().replace("_", "-")
        if not _LOCALE.match(value):
            raise ValidationError("a language code such as en, de or pt-BR")
        return value

    def clean_image_url(self) -> str:
        value = self.cleaned_data.get("image_url") or ""
        if value and not value.startswith("https://"):
            raise ValidationError("must start with https:// (the snippet shows images only over HTTPS)")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in LIQUID_FIELDS:
            text = data.get(name)
            if name in self.errors or not isinstance(text, str):
                continue
            problem = liquid_problem(text=text)
            if problem:
                self.add_error(name, problem)
        return data


class VariantFormSet(BaseInlineFormSet):
    """Checks across the arms: shares adding up to 100, one share per arm, links on the shop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self._shares_as_percent()

    def _shares_as_percent(self) -> None:
        """Weights saved as relative numbers (1 and 1, the demo's) are shown as the % they amount to
        (50 and 50): the same split, in the form the designer checks."""
        arms: dict[str, int] = {}
        for form in self.forms:
            if form.instance.pk:
                arms[form.instance.arm] = max(arms.get(form.instance.arm, 0), form.instance.weight)
        total = sum(arms.values())
        if len(arms) < 2 or total in (0, 100):
            return
        shares = {arm: 100 * weight // total for arm, weight in arms.items()}
        shares[min(shares)] += 100 - sum(shares.values())  # rounding: the first arm takes the rest
        for form in self.forms:
            if form.instance.pk:
                form.initial["weight"] = shares[form.instance.arm]

    def clean(self) -> None:
        super().clean()
        live = [
            f for f in self.forms if getattr(f, "cleaned_data", None) and not f.cleaned_data.get("DELETE")
        ]
        if not live and not any(f.errors for f in self.forms):
            raise ValidationError("a message needs content: at least one arm")
        parent: Message = self.instance
        if parent.source_id is None:
            parent = Message(**{k: getattr(parent, k) for k in ("kind", "trigger")})
            parent.source = Source(name="", allowed_origins=[])
        weights: dict[str, set[int]] = {}
        for form in live:
            data = form.cleaned_data
            if data.get("arm") and data.get("weight"):
                weights.setdefault(data["arm"], set()).add(data["weight"])
            candidate = Variant(
                **{k: v for k, v in data.items() if k in LIQUID_FIELDS or k in ("arm", "locale")}
            )
            try:
                message_validate(message=parent, variants=[candidate])
            except ValidationError as exc:
                for name, problems in exc.message_dict.items():
                    if name in LIQUID_FIELDS and name in form.fields and name not in form.errors:
                        for problem in problems:
                            form.add_error(name, problem.split(": ", 1)[-1])
        for arm, shares in weights.items():
            if len(shares) > 1:
                for form in live:
                    if form.cleaned_data.get("arm") == arm and "weight" not in form.errors:
                        form.add_error(
                            "weight", f"arm {arm} has one share in every locale, not {sorted(shares)}"
                        )
        if len(weights) > 1 and all(len(s) == 1 for s in weights.values()):
            total = sum(next(iter(s)) for s in weights.values())
            if total != 100:
                parts = " + ".join(f"{arm} {next(iter(s))}" for arm, s in sorted(weights.items()))
                for form in live:
                    if "weight" not in form.errors:
                        form.add_error("weight", f"the arms' shares add up to {total} % ({parts}), not 100")
                raise ValidationError(
                    f"Traffic: the arms' shares add up to {total} % ({parts}); make it 100."
                )


def form_errors_named(*, form: forms.BaseForm, formset: BaseInlineFormSet | None) -> list[dict[str, Any]]:
    """Every problem with the name of its field as the page shows it (for the live panel)."""
    out: list[dict[str, Any]] = []
    for name, problems in form.errors.items():
        label = "Message" if name == "__all__" else str(form.fields[name].label or name)
        out.append({"field": name, "label": label, "messages": list(problems)})
    if formset is not None:
        for i, f in enumerate(formset.forms):
            where = f"Content {f['arm'].value() or '?'}/{f['locale'].value() or '?'}"
            for name, problems in f.errors.items():
                label = where if name == "__all__" else f"{where} › {f.fields[name].label or name}"
                out.append(
                    {"field": f"{formset.prefix}-{i}-{name}", "label": label, "messages": list(problems)}
                )
        if formset.non_form_errors():
            out.append(
                {"field": formset.prefix, "label": "Content", "messages": list(formset.non_form_errors())}
            )
    return out


def sample_profiles(*, audience_id: int | None, limit: int = 12) -> list[tuple[int, str]]:
    """Profiles to preview with: the audience's members first, then recent known profiles."""
    from audiences.models import AudienceMembership

    ids: list[int] = []
    if audience_id:
        ids = list(
            AudienceMembership.objects.filter(audience_id=audience_id, exited_at__isnull=True)
            .order_by("-id")
            .values_list("profile_id", flat=True)[:limit]
        )
    if len(ids) < limit:
        ids += list(
            Profile.objects.filter(~Q(traits={}))
            .exclude(pk__in=ids)
            .order_by("-id")
            .values_list("pk", flat=True)[: limit - len(ids)]
        )
    out = []
    for p in Profile.objects.filter(pk__in=ids).only("id", "traits"):
        traits = p.traits or {}
        name = " ".join(str(traits[k]) for k in ("first_name", "last_name") if traits.get(k))
        who = name or str(traits.get("email") or "")
        out.append((p.pk, f"#{p.pk} {who}".strip()))
    order = {pk: i for i, pk in enumerate(ids)}
    return sorted(out, key=lambda item: order[item[0]])
