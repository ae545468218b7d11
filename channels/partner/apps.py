from django.apps import AppConfig


class PartnerConfig(AppConfig):
    name = "channels.partner"
    label = "partner"
    verbose_name = "Partner webhooks"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from channels.partner import receivers
        from channels.partner.beat import periodic_task_install
        from channels.partner.registry import PARTNER_EVENT_TYPES, event_types_register
        from channels.signals import message_status_changed
        from tracking import signals as tracking_signals

        event_types_register(PARTNER_EVENT_TYPES)
        tracking_signals.profile_merged.connect(
            receivers.on_profile_merged, dispatch_uid="partner-profile-merged"
        )
        tracking_signals.profile_erased.connect(
            receivers.on_profile_erased, dispatch_uid="partner-profile-erased"
        )
        tracking_signals.events_processed.connect(
            receivers.on_events_processed, dispatch_uid="partner-events-processed"
        )
        message_status_changed.connect(
            receivers.on_message_status_changed, dispatch_uid="partner-message-status"
        )
        post_migrate.connect(periodic_task_install, sender=self, dispatch_uid="partner-beat-install")
