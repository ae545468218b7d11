from django.apps import AppConfig


class PartnerConfig(AppConfig):
    name = "channels.partner"
    label = "partner"
    verbose_name = "Partner webhooks"
