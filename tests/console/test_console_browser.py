"""The console in Debian's chromium (Playwright, headless): an officer carries a case through intake
→ supplement → the resident's answer (service layer) → acceptance → street approval, with a
screenshot at each step under ``test-artifacts/console/``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_support import OFFICER, REVIEWER, decide, submit
from flask import Flask
from werkzeug.serving import make_server

from huiju.bootstrap import Runtime
from huiju.seed import DEMO_PASSWORD
from tests.support.canned import deliver_replies

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "console"


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def test_officer_and_reviewer_carry_a_case_to_approval(runtime: Runtime, base_url: str) -> None:
    if not CHROMIUM.exists():
        pytest.fail("browser tests need Debian's chromium: run `make browser-deps`", pytrace=False)
    from playwright.sync_api import expect, sync_playwright

    number = submit(runtime)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            page = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN").new_page()

            def sign_in(username: str) -> None:
                page.goto(f"{base_url}/console/")
                page.get_by_label("用户名").fill(username)
                page.get_by_label("密码").fill(DEMO_PASSWORD)
                page.get_by_role("button", name="登录").click()

            sign_in(OFFICER)
            expect(page.locator("#inbox")).to_contain_text(number)
            page.screenshot(path=str(ARTIFACTS / "1-inbox.png"), full_page=True)
            page.get_by_role("link", name=number).click()
            page.locator("#claim").click()
            expect(page.locator("#release")).to_be_visible()
            form = page.locator("#decide-supplement")
            form.locator("input[name=missing]").first.check()
            form.locator("input[name=missing_other]").fill("户口簿复印件")
            page.screenshot(path=str(ARTIFACTS / "2-supplement-form.png"), full_page=True)
            form.get_by_role("button").click()
            expect(page.locator(".alert-success")).to_contain_text("已办理")
            deliver_replies(runtime)  # the SMS to the resident, answered as a worker would
            page.reload()
            expect(page.locator("#case-status")).to_have_text("待补正")
            page.screenshot(path=str(ARTIFACTS / "3-awaiting-supplement.png"), full_page=True)

            decide(runtime, "resident-zhang", "supplement", "submit", {})  # the resident answers
            page.reload()
            expect(page.locator("#decide-accept")).to_be_visible()
            page.locator("#claim").click()
            page.locator("#decide-accept").get_by_role("button").click()
            expect(page.locator(".alert-success")).to_contain_text("已办理")
            deliver_replies(runtime)
            page.reload()
            expect(page.locator("#case-status")).to_have_text("街道审核中")
            page.screenshot(path=str(ARTIFACTS / "4-accepted.png"), full_page=True)

            page.locator("form[action$='/login/out'] button").click()
            sign_in(REVIEWER)
            page.get_by_role("link", name=number).click()
            page.locator("#claim").click()
            page.locator("#decide-approve").get_by_role("button").click()
            expect(page.locator("#timeline")).to_contain_text("reviewer-wangjing-01")
            page.screenshot(path=str(ARTIFACTS / "5-approved.png"), full_page=True)
        finally:
            browser.close()
