from django.urls import path

from tracking.views_analyticsjs import project_settings
from tracking.views_ingest import ingest

_KINDS = {"identify": "i", "track": "t", "page": "p", "screen": "s", "group": "g", "alias": "a", "batch": "b"}

urlpatterns = [
    # What analytics.js reads first from its CDN (docs/tracking.md).
    path("projects/<str:write_key>/settings", project_settings, name="analytics-js-settings"),
]
for _kind, _short in _KINDS.items():
    urlpatterns += [
        path(f"{_kind}", ingest, {"kind": _kind}, name=f"ingest-{_kind}"),
        path(f"{_short}", ingest, {"kind": _kind}, name=f"ingest-{_short}"),
    ]
