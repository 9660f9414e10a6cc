"""What one process holds once built from the settings: the database, the engine, the Celery app and
the exchange keys. :func:`huiju.app.bootstrap.build_runtime` builds it; every layer may read it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from huiju.db import Database
from huiju.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    db: Database
    engine: Any
    celery: Any = None
    #: The signing key and trust store for the exchange (None: plain, unsigned messages).
    security: Callable[[], Any] | None = None
    #: Each office's document-signing key (``huiju.services.documents.OfficeSigner``).
    office_signer: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def lease_seconds(self) -> float:
        return self.settings.lease_seconds

    def dispatch(self, message_ids: list[str]) -> None:
        if self.celery is None:
            return
        for message_id in message_ids:
            self.celery.send_task("huiju.deliver", args=[message_id])

    def make_documents(self, document_ids: list[int]) -> None:
        """Hand newly issued documents to the worker, which makes their PDFs."""
        if self.celery is None:
            return
        for document_id in document_ids:
            self.celery.send_task("huiju.make_document", args=[document_id])
