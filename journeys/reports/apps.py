from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "journeys.reports"
    label = "reports"
    verbose_name = "Campaign reports"
