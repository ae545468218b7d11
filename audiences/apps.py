from django.apps import AppConfig


class AudiencesConfig(AppConfig):
    name = "audiences"
    verbose_name = "Audiences"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from audiences import receivers
        from audiences.jsonmatch import sqlite_functions_register

        connection_created.connect(sqlite_functions_register, dispatch_uid="audiences-sqlite-functions")
        receivers.connect()

        from audiences import gdpr
        from tracking.selectors import profile_export_section_register

        profile_export_section_register("audience_memberships", gdpr.profile_memberships_export)
