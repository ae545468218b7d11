from django.apps import AppConfig


class OnsiteConfig(AppConfig):
    name = "journeys.onsite"
    label = "onsite"
    verbose_name = "On-site messages"

    def ready(self) -> None:
        from journeys.onsite import receivers
        from journeys.onsite.reports import SECTION
        from journeys.reports.more import campaign_section_register

        receivers.connect()
        campaign_section_register(SECTION)
