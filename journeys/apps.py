from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "journeys"
    verbose_name = "Journeys"

    def ready(self) -> None:
        # journeys is the top floor: the only app that listens to tracking, audiences and channels at once.
        from journeys import partner_events, receivers

        receivers.connect()
        partner_events.event_types_register()
