from django.apps import AppConfig


class AudiencesConfig(AppConfig):
    name = "audiences"
    verbose_name = "Audiences"

    def ready(self) -> None:
        from audiences import receivers

        receivers.connect()

        from audiences import gdpr
        from tracking.selectors import profile_export_section_register

        profile_export_section_register("audience_memberships", gdpr.profile_memberships_export)
