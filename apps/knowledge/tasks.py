from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from apps.knowledge import services


class IngestTask(Task):
    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        # Retries exhausted (or an unexpected error): the document must not stay "pending".
        document_id = args[0] if args else kwargs.get("document_id")
        if document_id is not None:
            services.mark_failed(int(document_id), f"ingestion failed: {type(exc).__name__}: {exc}")


@shared_task(
    base=IngestTask,
    bind=True,
    name="apps.knowledge.tasks.ingest_document",
    autoretry_for=(services.TransientError,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
    acks_late=True,
)
def ingest_document(self: Task, document_id: int, refetch: bool = False) -> dict[str, Any]:
    return services.ingest(document_id, refetch=refetch)
