from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "tracking.analytics"
    label = "analytics"
    verbose_name = "Analytics"
