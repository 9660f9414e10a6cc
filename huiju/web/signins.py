"""Refused sign-ins, counted for ``/metrics`` by every door (console, portal, API)."""

from __future__ import annotations

import logging

from huiju.services.metrics import count_sign_in_refusal
from huiju.web.runtime import runtime

log = logging.getLogger(__name__)


def refused(channel: str, reason: str) -> None:
    """Count one refused sign-in; a failure to count never changes the answer the person gets."""
    try:
        count_sign_in_refusal(runtime().db, channel, reason)
    except Exception:  # the count is a figure, the refusal is what matters
        log.warning("a refused sign-in (%s, %s) could not be counted", channel, reason, exc_info=True)
