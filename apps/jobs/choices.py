from django.db import models


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    RETRIED = "retried", "Waiting to retry"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    REVOKED = "revoked", "Revoked"


FINISHED_STATES = (JobState.SUCCEEDED, JobState.FAILED, JobState.REVOKED)
