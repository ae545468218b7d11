from django.urls import path

from tracking.analytics import api_acquisition as api

urlpatterns = [
    path("analytics/acquisition/", api.AcquisitionFiguresView.as_view(), name="analytics-acquisition"),
    path("analytics/ltv/", api.LtvCurvesView.as_view(), name="analytics-ltv"),
    path("analytics/clv/", api.ClvView.as_view(), name="analytics-clv"),
    path("analytics/spend/", api.SpendImportView.as_view(), name="analytics-spend"),
]
