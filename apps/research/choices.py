from django.db import models


class ResearchTaskStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_PROGRESS = "in_progress", "In progress"
    BLOCKED = "blocked", "Blocked"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


CLOSED_STATUSES = (ResearchTaskStatus.COMPLETED, ResearchTaskStatus.CANCELLED)
