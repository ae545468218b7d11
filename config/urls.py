from django.contrib import admin
from django.urls import include, path
from django_prometheus.exports import ExportToDjangoView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from core import views as core_views
from journeys.onsite.urls_public import snippet_urlpatterns as onsite_snippet_urls

# The admin is Voyage's back office; "View site" opens the campaign overview (there is no public site).
admin.site.site_header = "Voyage"
admin.site.site_title = "Voyage"
admin.site.index_title = "Voyage back office"
admin.site.site_url = "/reports/"

urlpatterns = [
    path("admin/system-health/", core_views.system_health, name="system-health"),
    path("admin/", admin.site.urls),
    # Liveness (the process answers) and readiness (database, broker, migrations) for orchestrators.
    path("health/live", core_views.live, name="health-live"),
    path("health/ready", core_views.ready, name="health-ready"),
    path("metrics", ExportToDjangoView, name="prometheus-metrics"),
    # Segment-compatible ingestion: /v1/track, /v1/batch, …
    path("v1/onsite/", include("journeys.onsite.urls_public")),
    # The on-site messages snippet (docs/onsite.md).
    path("onsite/", include(onsite_snippet_urls)),
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
