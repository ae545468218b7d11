"""The journeys and broadcasts API under /api/."""

from rest_framework.routers import DefaultRouter

from journeys.api.views import BroadcastViewSet, JourneyViewSet, RunViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("journeys", JourneyViewSet, basename="journey")
router.register("journey-runs", RunViewSet, basename="journey-run")
router.register("broadcasts", BroadcastViewSet, basename="broadcast")

urlpatterns = router.urls
