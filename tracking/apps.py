from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "tracking"
    verbose_name = "Tracking"

    def ready(self) -> None:
        from corsheaders.signals import check_request_enabled
        from django.db.models.signals import post_migrate

        from tracking import origins
        from tracking.health import health_register
        from tracking.roles import roles_sync_on_migrate

        post_migrate.connect(roles_sync_on_migrate, dispatch_uid="voyage-roles-sync")
        # Which origins may read /v1 answers is decided per source (tracking/origins.py).
        check_request_enabled.connect(
            lambda sender, request, **kw: origins.cors_request_allowed(request=request),
            weak=False,
            dispatch_uid="voyage-ingest-cors",
        )
        health_register()
