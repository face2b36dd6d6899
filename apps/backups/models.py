from __future__ import annotations

from django.db import models

from apps.backups.choices import RunStatus, Trigger, Verification


class BackupRun(models.Model):
    """One backup set (``BACKUP_DIR/*/<timestamp>.*`` + its manifest), as the runs saw it.

    The files and the manifest on disk are the truth (a restore on a fresh machine has no
    rows); this table is the history the admin, the API and the metrics read.
    """

    timestamp = models.CharField(max_length=15, unique=True, help_text="YYYYMMDD_HHMMSS (UTC)")
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING, db_index=True)
    components = models.JSONField(default=list)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds.")
    size_bytes = models.PositiveBigIntegerField(default=0)
    manifest = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    verification = models.CharField(max_length=16, choices=Verification.choices, default=Verification.UNVERIFIED)
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_report = models.JSONField(null=True, blank=True)
    offsite = models.CharField(
        "off-site copy", max_length=16, blank=True, choices=[("uploaded", "Uploaded"), ("failed", "Failed")]
    )
    offsite_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-timestamp"]
        indexes = [models.Index(fields=["status", "timestamp"])]

    def __str__(self) -> str:
        return f"backup {self.timestamp} ({self.status})"
