from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "apps.backups"
    verbose_name = "Backups"

    def ready(self) -> None:
        from apps.backups import health  # noqa: F401  (registers the backup age check)
