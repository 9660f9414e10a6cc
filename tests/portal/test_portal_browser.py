"""The portal in a real browser: Debian's chromium driven by Playwright, on a phone and a desktop.

Chromium is never downloaded by Playwright here: ``make browser-deps`` installs Debian's ``chromium``
and ``fonts-wqy-microhei`` (without the font, Chinese renders as boxes in the screenshots).
Screenshots are kept under ``test-artifacts/portal/``.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from portal_support import RESIDENT, submit
from werkzeug.serving import make_server

from huiju.bootstrap import Runtime
from huiju.seed import DEMO_APPLICANT, DEMO_PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "portal"
VIEWPORTS = {"phone": (360, 740), "desktop": (1366, 768)}


def _require_browser() -> None:
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"Debian's chromium ({CHROMIUM})")
    if shutil.which("fc-list") is None or not list(Path("/usr/share/fonts/truetype/wqy").glob("wqy-microhei*")):
        missing.append("the Chinese font fonts-wqy-microhei")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the Python package playwright")
    if missing:
        pytest.fail("browser tests need " + ", ".join(missing) + ": run `make browser-deps`", pytrace=False)


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


@pytest.mark.parametrize("device", sorted(VIEWPORTS))
def test_resident_signs_in_and_reads_catalogue_and_cases(runtime: Runtime, base_url: str, device: str) -> None:
    _require_browser()
    from playwright.sync_api import expect, sync_playwright

    number = submit(runtime, RESIDENT, DEMO_APPLICANT)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            width, height = VIEWPORTS[device]
            context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
            page = context.new_page()
            page.goto(f"{base_url}/portal/cases")
            expect(page).to_have_url(f"{base_url}/portal/login?next=/portal/cases")
            expect(page.get_by_role("heading", name="登录")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / f"login-{device}.png"), full_page=True)

            page.get_by_label("用户名或手机号").fill(RESIDENT)
            page.get_by_label("密码").fill(DEMO_PASSWORD)
            page.get_by_role("button", name="登录").click()
            expect(page.get_by_role("heading", name="我的办件")).to_be_visible()
            expect(page.get_by_text(number)).to_be_visible()
            expect(page.get_by_text("居家养老服务补贴").first).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / f"my-cases-{device}.png"), full_page=True)

            page.get_by_role("link", name="办事指南").first.click()
            expect(page.get_by_role("heading", name="养老服务")).to_be_visible()
            expect(page.get_by_text("10 个工作日内办结")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / f"catalogue-{device}.png"), full_page=True)

            page.get_by_role("link", name="居家养老服务补贴").click()
            expect(page.get_by_role("heading", name="申请条件")).to_be_visible()
            # Nothing overflows sideways on a phone: the page is as wide as the screen.
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.get_by_role("button", name="大字模式").click()
            expect(page.locator("html.display-large")).to_have_count(1)
            page.screenshot(path=str(ARTIFACTS / f"item-large-{device}.png"), full_page=True)

            page.get_by_role("link", name="English").click()
            expect(page.get_by_role("heading", name="Who may apply")).to_be_visible()
            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        finally:
            browser.close()
