from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "apps.jobs"
    verbose_name = "Background jobs"

    def ready(self) -> None:
        from apps.jobs import signals  # noqa: F401  (connects the Celery signal receivers)
