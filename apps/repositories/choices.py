from django.db import models


class SyncStatus(models.TextChoices):
    NEVER = "never", "Never synced"
    PENDING = "pending", "Sync queued"
    SYNCING = "syncing", "Syncing"
    OK = "ok", "Up to date"
    FAILED = "failed", "Sync failed"
