from django.urls import path

from tracking.analytics import views_acquisition as views

urlpatterns = [
    path("acquisition/", views.acquisition_view, name="acquisition"),
    path("ltv/", views.ltv_view, name="ltv"),
    path("clv/", views.clv_view, name="clv"),
]
