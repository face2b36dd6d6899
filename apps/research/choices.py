from django.db import models


class ResearchTaskStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_PROGRESS = "in_progress", "In progress"
    BLOCKED = "blocked", "Blocked"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


CLOSED_STATUSES = (ResearchTaskStatus.COMPLETED, ResearchTaskStatus.CANCELLED)


class ResearchRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


FINISHED_RUN_STATUSES = (ResearchRunStatus.SUCCEEDED, ResearchRunStatus.FAILED)


class RunTrigger(models.TextChoices):
    API = "api", "API"
    ADMIN = "admin", "Admin action"
    SCHEDULE = "schedule", "Beat schedule"


class SummaryMethod(models.TextChoices):
    LLM_ANTHROPIC = "llm-anthropic", "Anthropic (language model)"
    LLM_OPENAI = "llm-openai", "OpenAI (language model)"
    EXTRACTIVE = "extractive", "Extractive (top passages, no language model)"


class SourceKind(models.TextChoices):
    TECHNOLOGY = "technology", "Technology"
    REPOSITORY = "repository", "Repository"
    KNOWLEDGE = "knowledge", "Knowledge base passage"
