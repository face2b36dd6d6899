"""Research-task attachments are ingested automatically; deleted documents leave the index."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apps.knowledge.models import Document
from apps.research.models import ResearchTaskAttachment


@receiver(post_save, sender=ResearchTaskAttachment, dispatch_uid="knowledge_ingest_attachment")
def ingest_attachment(sender: Any, instance: ResearchTaskAttachment, created: bool, **_: Any) -> None:
    if not instance.file:
        return

    def queue() -> None:
        from apps.knowledge import services, tasks

        document = services.create_from_attachment(instance)
        if document is not None:
            tasks.ingest_document.delay(document.pk)

    transaction.on_commit(queue)


@receiver(post_delete, sender=Document, dispatch_uid="knowledge_forget_document")
def forget_document(sender: Any, instance: Document, **_: Any) -> None:
    from apps.knowledge import services

    document_id = instance.pk  # Django clears the pk once the row is gone
    transaction.on_commit(lambda: services.on_document_deleted(instance, document_id))
