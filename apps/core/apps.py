from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django.conf import settings

        from commandcenter import deployment  # noqa: F401  (registers the doctor's settings checks)
        from commandcenter.metrics import set_app_info

        if settings.CELERY_BROKER_URL.startswith("filesystem://"):
            # The kombu filesystem transport needs its folders before anything publishes
            # or consumes; every process (web, worker, beat, commands) may be first.
            for key in ("data_folder_in", "control_folder", "processed_folder"):
                folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(key)
                if isinstance(folder, str):
                    from pathlib import Path

                    Path(folder).mkdir(parents=True, exist_ok=True)
        set_app_info()
