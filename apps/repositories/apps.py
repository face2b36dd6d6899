from django.apps import AppConfig


class RepositoriesConfig(AppConfig):
    name = "apps.repositories"
    verbose_name = "Repositories"

    def ready(self) -> None:
        from apps.repositories import health  # noqa: F401  (registers the GitHub check of doctor)
