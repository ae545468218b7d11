from django.apps import AppConfig


class OnsiteConfig(AppConfig):
    name = "journeys.onsite"
    label = "onsite"
    verbose_name = "On-site messages"

    def ready(self) -> None:
        from journeys.onsite import receivers

        receivers.connect()
