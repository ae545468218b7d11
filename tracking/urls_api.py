"""The tracking management API under /api/: profiles, sources, events."""

from rest_framework.routers import DefaultRouter

from tracking.api.events import EventViewSet
from tracking.api.profiles import ProfileViewSet
from tracking.api.sources import SourceViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("profiles", ProfileViewSet, basename="profile")
router.register("sources", SourceViewSet, basename="source")
router.register("events", EventViewSet, basename="event")

urlpatterns = router.urls
