from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "channels"
    verbose_name = "Channels"

    def ready(self) -> None:
        from channels import receivers
        from tracking import signals

        signals.profile_merged.connect(receivers.on_profile_merged, dispatch_uid="channels-profile-merged")
        signals.profile_erased.connect(receivers.on_profile_erased, dispatch_uid="channels-profile-erased")
