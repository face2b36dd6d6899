from django.db import models


class Trigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    MANUAL = "manual", "Manual (command)"
    API = "api", "API or admin"
    SAFETY = "safety", "Safety backup before a restore"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Verification(models.TextChoices):
    UNVERIFIED = "unverified", "Not verified"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"


COMPONENTS = ("postgres", "rag", "redis")
