"""The development data in a SQLite file, seeded once per test run and copied for each test.

Seeding (``huiju.app.seed.seed_all``: organisations, accounts with their password hashes, items,
processes deployed, providers ...) takes about 1.5 s; copying the file takes milliseconds. A test
gets its own copy in its own instance folder, so that what one test writes no other test sees.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju.app.bootstrap import build_runtime
from huiju.app.seed import seed_all
from huiju.db import utcnow
from huiju.models import Service, TimeSlot
from huiju.settings import load_settings

#: The database file of an instance folder (``huiju.settings``: ``sqlite:///<instance>/huiju.db``).
DB_FILE = "huiju.db"
#: Where no call leaves the tests: the adapters of the seeded systems point at a closed port.
NOWHERE = "http://127.0.0.1:9/"

_templates: dict[str, Path] = {}
_lock = threading.Lock()


def _template(sandbox_url: str) -> Path:
    with _lock:
        folder = _templates.get(sandbox_url)
        if folder is None:
            folder = Path(tempfile.mkdtemp(prefix="huiju-seeded-"))
            atexit.register(shutil.rmtree, folder, True)
            rt = build_runtime(
                load_settings(instance_path=folder, env="test", exchange_signing=False), with_celery=False
            )
            rt.db.create_all()
            with rt.db.transaction() as session:
                seed_all(session, sandbox_url)
            rt.db.dispose()  # the last connection closes: the write-ahead log is checkpointed into the file
            _templates[sandbox_url] = folder
        return folder


def seeded_copy(instance: Path, sandbox_url: str = NOWHERE) -> None:
    """Put a copy of the seeded database in the instance folder ``instance`` (before its runtime is built)."""
    instance.mkdir(parents=True, exist_ok=True)
    for path in _template(sandbox_url).glob(f"{DB_FILE}*"):
        shutil.copy(path, instance / path.name)


def bookable_slot(session: Session, service_code: str, quantity: int = 1) -> int:
    """The id of the service's earliest seeded O2O time slot with room for ``quantity`` that a test can
    book. The seed makes the slots still to come when it runs, once per test run; a test may run long
    after, when the day's first slots have passed: an hour's margin covers the test's own length."""
    found = session.scalars(
        select(TimeSlot.id).join(Service, Service.id == TimeSlot.service_id)
        .where(Service.code == service_code, TimeSlot.booked + quantity <= TimeSlot.capacity,
               TimeSlot.starts_at > utcnow() + timedelta(hours=1))
        .order_by(TimeSlot.starts_at)
    ).first()  # fmt: skip
    assert found is not None, f"no bookable slot of {service_code}"
    return int(found)
