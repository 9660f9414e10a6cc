"""Waiting for a condition, not for a time: the suite runs on busy machines."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(predicate: Callable[[], object], seconds: float, *, every: float = 0.05) -> bool:
    """Whether ``predicate`` became true within ``seconds``, asked every ``every`` seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def wait_for(predicate: Callable[[], T], what: str, seconds: float = 30.0) -> T:
    """The first true value of ``predicate`` within ``seconds``; AssertionError naming ``what`` if none came."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
