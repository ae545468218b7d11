"""Analytics pages (admin-side, login required) and API, one module per side."""

from django.urls import include, path

app_name = "analytics"

urlpatterns = [
    path("", include("tracking.analytics.urls_acquisition")),
    path("", include("tracking.analytics.urls_behaviour")),
]
