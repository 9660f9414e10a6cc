"""Waiting for a condition, not for a time: the suite runs on busy machines."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually(predicate: Callable[[], object], seconds: float, *, every: float = 0.05) -> bool:
    """Whether ``predicate`` became true within ``seconds``, asked every ``every`` seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False
