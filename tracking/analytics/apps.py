from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "tracking.analytics"
    label = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from tracking.analytics import (  # noqa: F401 (registers tasks)
            receivers_acquisition,
            receivers_behaviour,
            tasks_acquisition,
            tasks_behaviour,
        )

        receivers_acquisition.connect()
        receivers_behaviour.connect()
