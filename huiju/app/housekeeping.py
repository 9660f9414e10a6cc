"""Housekeeping rounds the worker's beat runs beside the engine's sweep.

``huiju.pending_uploads``: the files a resident kept toward a 补正 answer (pending uploads) are
forgotten, rows and bytes, once their case no longer waits for that answer — so that nothing a
resident uploaded stays on disk without belonging to a case or a draft.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from huiju.runtime import Runtime

log = logging.getLogger(__name__)

#: How often the round runs, in seconds (nothing is urgent about it: once a minute).
PENDING_UPLOADS_EVERY = 60.0


def sweep_pending_uploads(runtime: Runtime) -> int:
    """One round: how many kept files were forgotten."""
    from huiju.services.materials import UploadStore, sweep_expired_pending

    uploads = UploadStore.from_settings(runtime.settings)
    with runtime.db.transaction() as session:
        removed = sweep_expired_pending(session, uploads)
    if removed:
        log.info("pending uploads: %s file(s) of answers that can no longer be sent removed", len(removed))
    return len(removed)


def register(celery: Any, runtime: Callable[[], Runtime]) -> None:
    """Bind the rounds to a Celery app (the beat schedule names them, see :mod:`huiju.app.worker`)."""

    @celery.task(name="huiju.pending_uploads", shared=False, ignore_result=True)  # type: ignore[untyped-decorator]
    def pending_uploads_task() -> int:
        return sweep_pending_uploads(runtime())
