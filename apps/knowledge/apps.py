from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "apps.knowledge"
    verbose_name = "Knowledge base"

    def ready(self) -> None:
        from apps.knowledge import health, signals  # noqa: F401  (health checks, attachment ingestion)
