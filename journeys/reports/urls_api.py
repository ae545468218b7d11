from django.urls import path

from journeys.reports.api import CampaignReportView, CampaignsReportView

urlpatterns = [
    path("reports/campaigns/", CampaignsReportView.as_view(), name="reports-campaigns"),
    path("reports/campaigns/<str:kind>/<int:cid>/", CampaignReportView.as_view(), name="reports-campaign"),
]
