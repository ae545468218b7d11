from django.urls import path

from tracking.analytics import views_acquisition as views

urlpatterns = [
    path("acquisition/", views.acquisition_view, name="acquisition"),
]
