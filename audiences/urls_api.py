"""The audiences API under /api/."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from audiences.api.views import AudienceViewSet, ProfileMembershipsView

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("audiences", AudienceViewSet, basename="audience")

urlpatterns = [
    path("profiles/<int:profile_id>/audiences/", ProfileMembershipsView.as_view(), name="profile-audiences"),
    *router.urls,
]
