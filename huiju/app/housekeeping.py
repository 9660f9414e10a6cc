"""Housekeeping rounds the worker's beat runs beside the engine's sweep.

``huiju.pending_uploads``: the files a resident kept toward a 补正 answer (pending uploads) are
forgotten, rows and bytes, once their case no longer waits for that answer — so that nothing a
resident uploaded stays on disk without belonging to a case or a draft.

``huiju.make_document``: the PDF of a document a decision has just issued, made and signed (the
step hands each one over as it commits); ``huiju.unmade_documents``: a round that makes any the
worker missed (a broker that was down when the decision committed, a worker stopped meanwhile).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from huiju.runtime import Runtime

log = logging.getLogger(__name__)

#: How often the round runs, in seconds (nothing is urgent about it: once a minute).
PENDING_UPLOADS_EVERY = 60.0
#: How often documents the worker missed are looked for (a reader who opens one makes it at once).
UNMADE_DOCUMENTS_EVERY = 60.0


def sweep_pending_uploads(runtime: Runtime) -> int:
    """One round: how many kept files were forgotten."""
    from huiju.services.materials import UploadStore, sweep_expired_pending

    uploads = UploadStore.from_settings(runtime.settings)
    with runtime.db.transaction() as session:
        removed = sweep_expired_pending(session, uploads)
    if removed:
        log.info("pending uploads: %s file(s) of answers that can no longer be sent removed", len(removed))
    return len(removed)


def make_unmade_documents(runtime: Runtime) -> int:
    """One round: how many documents' PDFs were made."""
    from huiju.services import documents

    made = 0
    for document_id in documents.unmade(runtime.db):
        made += documents.make(runtime.db, runtime.office_signer, document_id) is not None
    if made:
        log.info("documents: %s PDF(s) made that the worker had not been handed", made)
    return made


def register(celery: Any, runtime: Callable[[], Runtime]) -> None:
    """Bind the rounds to a Celery app (the beat schedule names them, see :mod:`huiju.app.worker`)."""

    @celery.task(name="huiju.pending_uploads", shared=False, ignore_result=True)  # type: ignore[untyped-decorator]
    def pending_uploads_task() -> int:
        return sweep_pending_uploads(runtime())

    @celery.task(name="huiju.make_document", shared=False, ignore_result=True)  # type: ignore[untyped-decorator]
    def make_document_task(document_id: int) -> None:
        from huiju.services import documents

        rt = runtime()
        documents.make(rt.db, rt.office_signer, document_id)

    @celery.task(name="huiju.unmade_documents", shared=False, ignore_result=True)  # type: ignore[untyped-decorator]
    def unmade_documents_task() -> int:
        return make_unmade_documents(runtime())
