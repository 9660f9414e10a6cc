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
from datetime import datetime, timedelta
from pathlib import Path

from huiju.app.bootstrap import build_runtime
from huiju.app.seed import seed_all
from huiju.db import utcnow
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


def bookable_after() -> datetime:
    """From when a test books a seeded O2O time slot. The seed makes the slots still to come when it
    runs, once per test run; a test may run long after, when the day's first slots have passed. An
    hour's margin covers the test's own length."""
    return utcnow() + timedelta(hours=1)
