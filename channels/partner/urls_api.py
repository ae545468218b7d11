from django.urls import path
from rest_framework.routers import SimpleRouter

from channels.partner.views_api import DeliveryViewSet, EndpointViewSet, EventTypesView

router = SimpleRouter()
router.register("partner/endpoints", EndpointViewSet, basename="partner-endpoint")
router.register("partner/deliveries", DeliveryViewSet, basename="partner-delivery")

urlpatterns = [
    path("partner/event-types/", EventTypesView.as_view(), name="partner-event-types"),
    *router.urls,
]
