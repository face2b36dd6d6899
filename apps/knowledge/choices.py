from django.db import models


class SourceType(models.TextChoices):
    UPLOAD = "upload", "Upload"
    URL = "url", "URL"
    ATTACHMENT = "attachment", "Research-task attachment"
    README = "readme", "Repository README"


class DocumentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    INDEXED = "indexed", "Indexed"
    FAILED = "failed", "Failed"
