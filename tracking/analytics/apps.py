from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "tracking.analytics"
    label = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from tracking.analytics import receivers_acquisition, tasks_acquisition  # noqa: F401 (registers tasks)

        receivers_acquisition.connect()
