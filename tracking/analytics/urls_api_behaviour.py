"""Behaviour analytics API under /api/analytics/."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from tracking.analytics import api_behaviour as api

router = SimpleRouter()
router.register("analytics/saved-analyses", api.SavedAnalysisViewSet, basename="saved-analysis")

urlpatterns = [
    path("analytics/funnels/", api.FunnelView.as_view(), name="analytics-funnel"),
    path("analytics/retention/", api.RetentionView.as_view(), name="analytics-retention"),
    path("analytics/search-keywords/", api.SearchView.as_view(), name="analytics-search"),
    path("analytics/slots/", api.SlotsView.as_view(), name="analytics-slots"),
    path("analytics/affinity/", api.AffinityView.as_view(), name="analytics-affinity"),
    path("analytics/new-products/", api.NewProductsView.as_view(), name="analytics-new-products"),
    path("", include(router.urls)),
]
