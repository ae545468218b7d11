from django.urls import path

from tracking.analytics import api_acquisition as api

urlpatterns = [
    path("analytics/acquisition/", api.AcquisitionFiguresView.as_view(), name="analytics-acquisition"),
    path("analytics/spend/", api.SpendImportView.as_view(), name="analytics-spend"),
]
