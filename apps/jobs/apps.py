from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "apps.jobs"
    verbose_name = "Background jobs"

    def ready(self) -> None:
        from apps.jobs import health, signals  # noqa: F401  (Beat check; the Celery signal receivers)
