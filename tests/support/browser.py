"""What every browser test shares: how long an expectation waits for its condition.

Playwright's expectations poll until their condition holds; its default deadline (5 s) is shorter
than a page can take on a busy two-core machine, so the suite gives every expectation 30 s. A test
that passes still ends as soon as its condition holds.
"""

from __future__ import annotations

EXPECT_TIMEOUT_MS = 30_000


def patient_expectations() -> None:
    try:
        from playwright.sync_api import expect
    except ImportError:  # the browser tests install it (make browser-deps); others never call expect
        return
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
