from django.urls import path

from journeys.reports import views

app_name = "reports"
urlpatterns = [
    path("", views.overview_view, name="overview"),
    path("<str:kind>/<int:cid>/", views.campaign_view, name="campaign"),
]
