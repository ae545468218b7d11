from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "journeys"
    verbose_name = "Journeys"

    def ready(self) -> None:
        # journeys is the top floor: the only app that listens to tracking, audiences and channels at once.
        from journeys import partner_events, receivers

        receivers.connect()

        from journeys import gdpr
        from tracking.selectors import profile_export_section_register

        profile_export_section_register("journey_runs", gdpr.profile_runs_export)
        profile_export_section_register("broadcasts_received", gdpr.profile_broadcasts_export)
        partner_events.event_types_register()

        from journeys.health import health_register

        health_register()

        # Voyage's own links name the campaign in utm_campaign (channels.utm): a journey by its slug,
        # a broadcast by its name.
        from channels.utm import campaign_slug_register
        from journeys.models import Broadcast, Journey

        campaign_slug_register(
            "journey", lambda pk: Journey.objects.filter(pk=pk).values_list("slug", flat=True).first()
        )
        campaign_slug_register(
            "broadcast", lambda pk: Broadcast.objects.filter(pk=pk).values_list("name", flat=True).first()
        )
