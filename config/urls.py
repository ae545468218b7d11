from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    # Segment-compatible ingestion: /v1/track, /v1/batch, …
    path("v1/", include("tracking.urls_ingest")),
    # analytics.js itself and its chunks, so the Segment snippet needs only its CDN host changed.
    path("", include("tracking.urls_analyticsjs")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("api/", include("tracking.urls_api")),
    path("api/", include("tracking.analytics.urls_api")),
    path("api/", include("audiences.urls_api")),
    path("api/", include("channels.urls_api")),
    path("api/", include("channels.partner.urls_api")),
    path("api/", include("journeys.urls_api")),
    path("api/", include("journeys.reports.urls_api")),
    path("reports/", include("journeys.reports.urls")),
    path("analytics/", include("tracking.analytics.urls")),
    # Public pages that need no login (unsubscribe, preferences, tracking links, provider webhooks).
    path("", include("channels.urls_public")),
    path("", include("journeys.urls_public")),
]
