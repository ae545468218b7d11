"""Analytics API (under /api/), one module per side."""

from django.urls import include, path

urlpatterns = [
    path("", include("tracking.analytics.urls_api_acquisition")),
    path("", include("tracking.analytics.urls_api_behaviour")),
]
