"""The channels API under /api/: the transactional send API and message reads."""

from rest_framework.routers import DefaultRouter

from channels.api import MessageViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("messages", MessageViewSet, basename="message")

urlpatterns = router.urls
