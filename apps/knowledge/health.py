"""Health checks of the knowledge base (``/health`` and ``manage.py doctor``)."""

from __future__ import annotations

import os

from django.conf import settings

from commandcenter.health import OK, WARN, CheckResult, register


@register("knowledge_index")
def check_index() -> CheckResult:
    from apps.knowledge import index

    if settings.CHROMA_URL:
        return CheckResult(OK, index.heartbeat())
    # The embedded store belongs to one process: a health check must not open it, only see
    # whether another process (a Chroma server, a command) holds it.
    path = settings.CHROMA_PATH
    if path.exists() and not path.is_dir():
        return CheckResult(WARN, f"CHROMA_PATH {path} is not a directory")
    if not index.holds_store(path):
        try:
            os.close(index.lock_store(path))
        except index.StoreInUse:
            return CheckResult(
                WARN,
                f"the store at {path} is open in another process (a Chroma server?): "
                "set CHROMA_URL to reach the index through it",
            )
    return CheckResult(OK, f"embedded store at {path} (single-process mode; set CHROMA_URL to share it)")


@register("embedding_model", needs_database=True)
def check_model() -> CheckResult:
    from apps.knowledge.embeddings import current_model_name
    from apps.knowledge.services import stale_documents

    model = current_model_name()
    stale = stale_documents()
    if stale:
        return CheckResult(
            WARN,
            f"{stale} document(s) were embedded with another model than {model}: run manage.py rebuild_knowledge_index",
        )
    return CheckResult(OK, f"{model}; every indexed document uses it")
