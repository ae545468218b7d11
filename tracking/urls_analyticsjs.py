"""The paths Segment's CDN serves to analytics.js (the settings path is under /v1/, see urls_ingest)."""

from django.urls import path

from tracking.views_analyticsjs import analytics_js, analytics_js_chunk

urlpatterns = [
    path("analytics.js/v1/<str:write_key>/analytics.min.js", analytics_js, name="analytics-js"),
    path("analytics-next/bundles/<str:name>", analytics_js_chunk, name="analytics-js-chunk"),
]
