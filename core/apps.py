from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Operations"  # the set-aside rows list lives here

    def ready(self) -> None:
        from core.metrics import health_collector_register

        health_collector_register()
