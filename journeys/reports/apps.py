from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "journeys.reports"
    label = "reports"
    verbose_name = "Campaign reports"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from journeys.reports import receivers
        from journeys.reports.beat import periodic_task_install

        receivers.connect()
        post_migrate.connect(periodic_task_install, sender=self, dispatch_uid="reports-beat-install")
