from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from apps.core.models import TimeStampedModel
from apps.research.choices import (
    CLOSED_STATUSES,
    FINISHED_RUN_STATUSES,
    ResearchRunStatus,
    ResearchTaskStatus,
    RunTrigger,
    SummaryMethod,
)
from apps.research.validators import validate_attachment_type


class ResearchTaskQuerySet(models.QuerySet["ResearchTask"]):
    def open(self) -> ResearchTaskQuerySet:
        return self.exclude(status__in=CLOSED_STATUSES)

    def overdue(self, today: dt.date | None = None) -> ResearchTaskQuerySet:
        return self.open().filter(due_date__lt=today or timezone.localdate())

    def due_within(self, days: int, today: dt.date | None = None) -> ResearchTaskQuerySet:
        start = today or timezone.localdate()
        return self.open().filter(due_date__gte=start, due_date__lte=start + dt.timedelta(days=days))


class ResearchTask(TimeStampedModel):
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=ResearchTaskStatus.choices, default=ResearchTaskStatus.PENDING)
    technology = models.ForeignKey(
        "technologies.Technology", null=True, blank=True, on_delete=models.SET_NULL, related_name="research_tasks"
    )
    repository = models.ForeignKey(
        "repositories.Repository", null=True, blank=True, on_delete=models.SET_NULL, related_name="research_tasks"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="research_tasks",
    )
    due_date = models.DateField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    progress = models.PositiveSmallIntegerField(
        default=0, validators=[MinValueValidator(0), MaxValueValidator(100)], help_text="0-100 %"
    )
    estimated_hours = models.DecimalField(
        max_digits=7, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(Decimal(0))]
    )
    actual_hours = models.DecimalField(
        max_digits=7, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(Decimal(0))]
    )
    findings = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    is_recurring = models.BooleanField(
        "recurring",
        default=False,
        help_text="Run research on this task on the RESEARCH_RECURRING_SCHEDULE while it is open.",
    )

    objects = ResearchTaskQuerySet.as_manager()

    class Meta:
        ordering = ["due_date", "-created_at"]
        indexes = [
            models.Index(fields=["status", "due_date"]),
            models.Index(fields=["due_date"]),
            models.Index(fields=["completed_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__gte=0, progress__lte=100), name="research_progress_0_100"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args: object, **kwargs: object) -> None:
        # completed_at follows the status: set on completion, cleared when reopened.
        if self.status == ResearchTaskStatus.COMPLETED:
            if self.completed_at is None:
                self.completed_at = timezone.now()
            self.progress = 100
        else:
            self.completed_at = None
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def is_overdue(self) -> bool:
        return self.due_date is not None and self.status not in CLOSED_STATUSES and self.due_date < timezone.localdate()


def attachment_path(instance: ResearchTaskAttachment, filename: str) -> str:
    return f"research/{instance.task_id}/{filename}"


class ResearchTaskAttachment(models.Model):
    task = models.ForeignKey(ResearchTask, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=500, validators=[validate_attachment_type])
    name = models.CharField(max_length=255, blank=True)
    size = models.PositiveBigIntegerField(default=0, editable=False)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name or self.file.name

    def save(self, *args: object, **kwargs: object) -> None:
        if self.file:
            self.size = self.file.size
            if not self.name:
                self.name = self.file.name.rsplit("/", 1)[-1]
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class ResearchRun(models.Model):
    """One research run of a task: the evidence gathered and the report written from it.

    ``job_id`` is the Celery task id, unique: the row is created when the job is queued and
    the job updates that same row, so a redelivered or retried job never makes a second run.
    """

    task = models.ForeignKey(ResearchTask, on_delete=models.CASCADE, related_name="runs")
    job_id = models.CharField(
        "job id", max_length=255, unique=True, help_text="The Celery task id (see /api/v1/jobs/<job id>/)."
    )
    status = models.CharField(max_length=16, choices=ResearchRunStatus.choices, default=ResearchRunStatus.QUEUED)
    trigger = models.CharField(max_length=16, choices=RunTrigger.choices, default=RunTrigger.API)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    progress = models.PositiveSmallIntegerField(
        default=0, validators=[MinValueValidator(0), MaxValueValidator(100)], help_text="0-100 %"
    )
    stage = models.CharField(max_length=100, blank=True, help_text="What the run is doing (or did last).")
    attempts = models.PositiveIntegerField(default=0, help_text="Times a worker started it (retries, redeliveries).")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds, from the start of the last attempt.")
    report = models.TextField(blank=True, help_text="Markdown.")
    sources = models.JSONField(default=list, blank=True, help_text="[{kind, title, url, score}]")
    summary_method = models.CharField(max_length=20, choices=SummaryMethod.choices, blank=True)
    model = models.CharField(max_length=200, blank=True, help_text="Language model that wrote the summary.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["task", "-created_at"]), models.Index(fields=["status"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__gte=0, progress__lte=100), name="research_run_progress_0_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task} — run {self.job_id[:8]} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_RUN_STATUSES
