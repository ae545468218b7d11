from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "channels"
    verbose_name = "Channels"

    def ready(self) -> None:
        from channels import receivers
        from tracking import signals

        signals.profile_merged.connect(receivers.on_profile_merged, dispatch_uid="channels-profile-merged")
        signals.profile_erased.connect(receivers.on_profile_erased, dispatch_uid="channels-profile-erased")

        from channels import gdpr
        from tracking.selectors import profile_export_section_register

        profile_export_section_register("messages", gdpr.profile_messages_export)
        profile_export_section_register("suppressions", gdpr.profile_suppressions_export)

        from channels.health import health_register

        health_register()
