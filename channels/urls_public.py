from django.urls import path

from channels import views_public, webhooks

app_name = "channels_public"

urlpatterns = [
    path("u/<str:token>/", views_public.unsubscribe, name="unsubscribe"),
    path("preferences/<str:token>/", views_public.preferences, name="preferences"),
    path("o/<str:token>.gif", views_public.open_pixel, name="open"),
    path("c/<str:token>/", views_public.click, name="click"),
    path("webhooks/sendgrid/events/", webhooks.sendgrid_events, name="sendgrid-events"),
    path("webhooks/twilio/status/", webhooks.twilio_status, name="twilio-status"),
    path("webhooks/twilio/inbound/", webhooks.twilio_inbound, name="twilio-inbound"),
]
