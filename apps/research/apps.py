from django.apps import AppConfig


class ResearchConfig(AppConfig):
    name = "apps.research"
    verbose_name = "Research"

    def ready(self) -> None:
        from apps.research import health  # noqa: F401  (registers the language-model check of doctor)
