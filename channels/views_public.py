"""Pages and links that work without login, by signed token: unsubscribe (RFC 8058 one-click),
preferences, the open pixel and the click redirect."""

from __future__ import annotations

import base64

from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from channels import tokens
from channels.models import Message
from channels.results import Result, results_record
from channels.subscriptions import preferences_get, preferences_set, unsubscribe_apply
from channels.utm import utm_tag, utm_values
from tracking.models import Channel, Profile

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _claim_or_404(token: str) -> tokens.UnsubscribeClaim:
    try:
        return tokens.unsubscribe_token_read(token)
    except (signing.BadSignature, ValueError, TypeError):
        raise Http404("This link is not valid.")


@csrf_exempt  # mail clients POST the one-click unsubscribe without cookies or CSRF tokens (RFC 8058)
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    claim = _claim_or_404(token)
    channel_label = dict(Channel.choices).get(claim.channel, claim.channel)
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        unsubscribe_apply(
            profile_id=claim.profile_id,
            channel=claim.channel,
            message_id=claim.message_id,
            method="one_click" if one_click else "unsubscribe_page",
        )
        return render(request, "channels/unsubscribed.html", {"channel": channel_label, "token": token})
    return render(request, "channels/unsubscribe_confirm.html", {"channel": channel_label, "token": token})


@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    claim = _claim_or_404(token)
    profile = Profile.objects.filter(pk=claim.profile_id).first()
    if profile is None:
        raise Http404("This link is not valid.")
    saved = False
    if request.method == "POST":
        choices = {
            p["channel"]: request.POST.get(p["channel"]) == "on" for p in preferences_get(profile=profile)
        }
        preferences_set(profile=profile, subscribed=choices)
        saved = True
    labels = dict(Channel.choices)
    rows = [{**p, "label": labels.get(p["channel"], p["channel"])} for p in preferences_get(profile=profile)]
    return render(request, "channels/preferences.html", {"rows": rows, "saved": saved, "token": token})


@never_cache
@require_GET
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    try:
        message_id = tokens.open_token_read(token)
    except (signing.BadSignature, ValueError, TypeError):
        message_id = None
    if message_id and Message.objects.filter(pk=message_id).exists():
        results_record([Result(message_id, "opened", timezone.now(), {"source": "pixel"})])
    return HttpResponse(PIXEL, content_type="image/gif")


@never_cache
@require_GET
def click(request: HttpRequest, token: str) -> HttpResponse:
    try:
        message_id, url = tokens.click_token_read(token)
    except (signing.BadSignature, ValueError, TypeError):
        raise Http404("This link is not valid.")
    if not url.startswith(("https://", "http://")):
        raise Http404("This link is not valid.")
    message = Message.objects.select_related("template").filter(pk=message_id).first()
    if message is None:
        return HttpResponseRedirect(url)
    results_record([Result(message_id, "clicked", timezone.now(), {"url": url})])
    # The visit this click starts is an Email/SMS touch of this campaign in acquisition (channels.utm).
    return HttpResponseRedirect(utm_tag(url, utm_values(message=message)))
