from django.apps import AppConfig


class TechnologiesConfig(AppConfig):
    name = "apps.technologies"
    verbose_name = "Technology radar"
