"""The console audited by axe-core at WCAG 2.1 AA in Debian's chromium: every page an officer, a
street reviewer and an administrator open, in Chinese and in English, on an office screen and a phone.
One violation fails the test (officers include people who use screen readers and magnifiers). Every
page is also scanned for codes of the domain shown to a person (tests/support/codes.py): a status,
decision, event kind, role, lane, system, operation or material code fails it too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from console_support import OFFICER, REVIEWER, decide, submit
from flask import Flask
from test_console_browser import console

from huiju.runtime import Runtime
from tests.support.codes import check_page
from tests.support.servers import serving

VIEWPORTS = {"desktop": (1366, 768), "phone": (390, 844)}


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    with serving(app) as url:
        yield url


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("device", sorted(VIEWPORTS))
def test_console_pages_have_no_accessibility_violations(
    runtime: Runtime, base_url: str, lang: str, device: str
) -> None:
    from playwright.sync_api import expect

    number = submit(runtime)
    decide(runtime, OFFICER, "intake", "accept", {"comment": "材料齐全，予以受理"})
    refused = submit(runtime)
    with console(base_url, VIEWPORTS[device]) as c:
        page = c.page

        def audit(page: object, what: str) -> None:
            check_page(page, f"{what} ({lang}, {device})", lang)

        page.goto(f"{base_url}/console/lang/{lang}")
        page.goto(f"{base_url}/console/login/")
        audit(page, "the sign-in page")
        c.sign_in_as(OFFICER)
        expect(page.locator("#inbox")).to_contain_text(refused)
        audit(page, "the officer's inbox")
        if device == "phone":  # under 768 px each task is a card: cells stacked, nothing wider than the screen
            row = page.locator(f"#inbox tr[data-case='{refused}']")
            assert row.evaluate("r => getComputedStyle(r).display") == "block"
            assert row.locator("td.cell-case").evaluate("c => getComputedStyle(c, '::before').content") != "none"
            assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[device][0]
        page.goto(f"{base_url}/console/cases/{refused}")
        expect(page.locator("#diagram[data-rendered=yes]")).to_have_count(1)
        audit(page, "a case at intake")
        page.goto(f"{base_url}/console/dashboard/")
        audit(page, "the dashboard")
        decide(runtime, OFFICER, "intake", "refuse", {"reason_code": "outside_remit", "reason": "户籍不在本社区"})
        page.goto(f"{base_url}/console/cases/{refused}")
        expect(page.locator("#opinions")).to_contain_text("户籍不在本社区")
        audit(page, "a refused case with its opinions and documents")
        c.sign_out()
        c.sign_in_as(REVIEWER)
        page.goto(f"{base_url}/console/cases/{number}")
        audit(page, "a case at street review")
        decide(runtime, REVIEWER, "street_review", "approve")
        page.goto(f"{base_url}/console/cases/{number}")
        audit(page, "a concluded case")
        page.goto(f"{base_url}/console/cases/nothing-here")
        audit(page, "the not-found page")
        c.sign_out()
        c.sign_in_as("admin")
        page.goto(f"{base_url}/console/calendar/")
        audit(page, "the calendar")
        page.goto(f"{base_url}/console/cases/incidents")
        audit(page, "the incidents")
