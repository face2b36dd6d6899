from __future__ import annotations

import uuid

from django.db import models

from apps.core.models import TimeStampedModel
from apps.knowledge.choices import DocumentStatus, SourceType

DEFAULT_COLLECTION = "default"


def document_path(instance: Document, filename: str) -> str:
    return f"knowledge/{filename}"


class Document(TimeStampedModel):
    """A document of the knowledge base. Its chunks in Chroma are derived data: they can be
    rebuilt from the stored file at any time (``manage.py rebuild_knowledge_index``)."""

    title = models.CharField(max_length=300)
    file = models.FileField(upload_to=document_path, max_length=500, blank=True)
    source_url = models.URLField(max_length=2000, blank=True)
    source_type = models.CharField(max_length=16, choices=SourceType.choices, default=SourceType.UPLOAD)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    content_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    technology = models.ForeignKey(
        "technologies.Technology", null=True, blank=True, on_delete=models.SET_NULL, related_name="documents"
    )
    research_task = models.ForeignKey(
        "research.ResearchTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="documents"
    )
    attachment = models.OneToOneField(
        "research.ResearchTaskAttachment",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="document",
    )
    category = models.CharField(max_length=100, blank=True, db_index=True)
    collection = models.CharField(max_length=100, default=DEFAULT_COLLECTION, db_index=True)
    status = models.CharField(max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.PENDING)
    error = models.TextField(blank=True)
    chunk_count = models.PositiveIntegerField(default=0)
    embedding_model = models.CharField(max_length=200, blank=True)
    indexed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status"]),
            models.Index(fields=["collection", "category"]),
            models.Index(fields=["embedding_model"]),
        ]
        constraints = [
            # Re-ingesting the same content into the same collection makes no duplicate.
            models.UniqueConstraint(
                fields=["collection", "content_sha256"],
                condition=~models.Q(content_sha256=""),
                name="knowledge_unique_content_per_collection",
            )
        ]

    def __str__(self) -> str:
        return self.title


def new_token() -> str:
    return uuid.uuid4().hex


class IndexState(models.Model):
    """A single row: the version of the index, bumped by every ingest and delete. Cached
    search results are keyed by ``token``, new at every bump (random, so that a restored
    database or a recreated one can never meet cache entries of another index state)."""

    version = models.PositiveBigIntegerField(default=0)
    token = models.CharField(max_length=32, default=new_token)

    class Meta:
        verbose_name = "index state"

    def __str__(self) -> str:
        return f"index version {self.version}"
