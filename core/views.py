"""Liveness, readiness and the admin's System health page."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache

from core.health import health_readings, health_verdict, readiness_checks


@never_cache
def live(request: HttpRequest) -> JsonResponse:
    """The process answers: nothing else is touched, so a slow database never gets a web process killed."""
    return JsonResponse({"status": "ok"})


@never_cache
def ready(request: HttpRequest) -> JsonResponse:
    """Ready to serve: database answers, broker answers, every migration applied (503 otherwise)."""
    checks = readiness_checks()
    ok = all(c.ok for c in checks)
    return JsonResponse(
        {
            "status": "ok" if ok else "unavailable",
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks},
        },
        status=200 if ok else 503,
    )


@never_cache
@staff_member_required
def system_health(request: HttpRequest) -> HttpResponse:
    from django.contrib import admin

    checks = readiness_checks()
    readings = health_readings()
    state, sentence = health_verdict(checks=checks, readings=readings)
    return TemplateResponse(
        request,
        "admin/system_health.html",
        {
            **admin.site.each_context(request),
            "title": "System health",
            "state": state,
            "sentence": sentence,
            "checks": checks,
            "readings": readings,
        },
    )
