from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "tracking.analytics"
    label = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from tracking.analytics import receivers_acquisition

        receivers_acquisition.connect()
