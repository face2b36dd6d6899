from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models

from apps.core.fields import EncryptedTextField
from apps.core.models import TimeStampedModel
from apps.repositories.choices import SyncStatus
from apps.repositories.validators import validate_owner, validate_repository_name


class Repository(TimeStampedModel):
    """A code repository the organisation depends on (GitHub ``owner/name``)."""

    owner = models.CharField(max_length=39, validators=[validate_owner])
    name = models.CharField(max_length=100, validators=[validate_repository_name])
    full_name = models.CharField(max_length=140, unique=True, editable=False)
    url = models.URLField(max_length=500, blank=True)
    clone_url = models.URLField(max_length=500, blank=True)
    default_branch = models.CharField(max_length=255, blank=True, default="main")
    description = models.TextField(blank=True)
    is_private = models.BooleanField(default=False)
    language = models.CharField(max_length=100, blank=True)
    stars = models.PositiveIntegerField(default=0)
    forks = models.PositiveIntegerField(default=0)
    open_issues = models.PositiveIntegerField(default=0, validators=[MinValueValidator(0)])
    topics = models.JSONField(default=list, blank=True)
    last_commit_sha = models.CharField(max_length=64, blank=True)
    last_commit_message = models.TextField(blank=True)
    last_commit_author = models.CharField(max_length=255, blank=True)
    last_commit_date = models.DateTimeField(null=True, blank=True)
    latest_release_tag = models.CharField(max_length=255, blank=True)
    latest_release_name = models.CharField(max_length=255, blank=True)
    latest_release_date = models.DateTimeField(null=True, blank=True)
    latest_release_url = models.URLField(max_length=500, blank=True)
    # GitHub's own id: follows the repository through renames and transfers.
    github_id = models.BigIntegerField(null=True, blank=True, unique=True, editable=False)
    # ETag of each GitHub resource last read ("repository", "commit", "release"), sent back
    # as If-None-Match so that an unchanged resource costs a 304, not a rate-limited request.
    github_etags = models.JSONField(default=dict, blank=True, editable=False)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    sync_status = models.CharField(max_length=16, choices=SyncStatus.choices, default=SyncStatus.NEVER)
    sync_error = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # Encrypted with FIELD_ENCRYPTION_KEY; write-only in the API, never logged.
    access_token = EncryptedTextField(blank=True, default="")

    class Meta:
        ordering = ["full_name"]
        verbose_name_plural = "repositories"
        indexes = [
            models.Index(fields=["owner"]),
            models.Index(fields=["language"]),
            models.Index(fields=["is_private"]),
            models.Index(fields=["sync_status"]),
            models.Index(fields=["stars"]),
            models.Index(fields=["last_synced_at"]),
        ]

    def __str__(self) -> str:
        return self.full_name

    def save(self, *args: object, **kwargs: object) -> None:
        self.full_name = f"{self.owner}/{self.name}"
        if not self.url:
            self.url = f"https://github.com/{self.full_name}"
        if not self.clone_url:
            self.clone_url = f"{self.url.rstrip('/')}.git"
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def has_access_token(self) -> bool:
        return bool(self.access_token)


class WebhookDelivery(models.Model):
    """A GitHub webhook delivery already handled: a redelivery of the same id is ignored."""

    delivery_id = models.CharField(max_length=100, unique=True)
    event = models.CharField(max_length=50)
    repository_full_name = models.CharField(max_length=140, blank=True)
    job_id = models.CharField(max_length=255, blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} {self.delivery_id}"
