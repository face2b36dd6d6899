from __future__ import annotations

from django.db import models
from django.utils import timezone

from apps.jobs.choices import FINISHED_STATES, JobState


class Job(models.Model):
    """One Celery task, mirrored from Celery's signals: queued → running → finished."""

    task_id = models.CharField("job id", max_length=255, unique=True)
    name = models.CharField(max_length=255, db_index=True)
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED, db_index=True)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    queue = models.CharField(max_length=255, blank=True)
    worker = models.CharField(max_length=255, blank=True)
    retries = models.PositiveIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    queued_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds from start to finish.")

    class Meta:
        ordering = ["-queued_at"]
        indexes = [models.Index(fields=["name", "state"])]

    def __str__(self) -> str:
        return f"{self.short_name} {self.task_id} ({self.state})"

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_STATES
