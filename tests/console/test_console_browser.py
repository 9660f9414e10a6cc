"""The console in Debian's chromium (Playwright, headless): an officer carries a case through intake
→ supplement → the resident's answer (service layer) → acceptance → street approval; the street
returns (退回) a case to intake; an officer transfers (转办) a task to a colleague. A screenshot at
each step under ``test-artifacts/console/``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from console_support import COLLEAGUE, OFFICER, REVIEWER, decide, submit
from flask import Flask

from huiju.app.seed import DEMO_PASSWORD
from huiju.runtime import Runtime
from tests.support.canned import deliver_replies
from tests.support.servers import serving

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "console"


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    with serving(app) as url:
        yield url


class Console:
    """One browser page on the console, signed in as one user at a time."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def sign_in(self, username: str) -> None:
        self.page.goto(f"{self.base_url}/console/")
        self.page.get_by_label("用户名").fill(username)
        self.page.get_by_label("密码").fill(DEMO_PASSWORD)
        self.page.get_by_role("button", name="登录").click()

    def sign_in_as(self, username: str) -> None:
        """Sign in whatever the page's language (the form's fields by their ids)."""
        self.page.goto(f"{self.base_url}/console/login/")
        self.page.locator("#username").fill(username)
        self.page.locator("#password").fill(DEMO_PASSWORD)
        self.page.locator("#login-form button[type=submit]").click()

    def sign_out(self) -> None:
        button = self.page.locator("form[action$='/login/out'] button")
        if not button.is_visible():  # a phone: the menu is folded behind its toggle
            self.page.locator(".navbar-toggle").click()
            # Bootstrap unfolds it in an animation ("collapsing"); a click during it can miss.
            self.page.locator("#console-menu.collapse.in").wait_for()
        button.click()
        # Signing out is a form's POST: its answer (the sign-in page) is awaited, or a page asked for
        # next, on a busy machine, may still be served to the signed-in user.
        self.page.locator("#login-form").wait_for()

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(ARTIFACTS / name), full_page=True)


@contextmanager
def console(base_url: str, viewport: tuple[int, int] = (1366, 768)) -> Iterator[Console]:
    if not CHROMIUM.exists():
        pytest.fail("browser tests need Debian's chromium: run `make browser-deps`", pytrace=False)
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            size = {"width": viewport[0], "height": viewport[1]}
            page = browser.new_context(viewport=size, locale="zh-CN", has_touch=viewport[0] < 1024).new_page()
            yield Console(page, base_url)
        finally:
            browser.close()


def test_officer_and_reviewer_carry_a_case_to_approval(runtime: Runtime, base_url: str) -> None:
    from playwright.sync_api import expect

    number = submit(runtime)
    with console(base_url) as c:
        page = c.page
        c.sign_in(OFFICER)
        expect(page.locator("#inbox")).to_contain_text(number)
        c.shot("1-inbox.png")
        page.get_by_role("link", name=number).click()
        page.locator("#claim").click()
        expect(page.locator("#release")).to_be_visible()
        form = page.locator("#decide-supplement")
        form.locator("input[name=missing]").first.check()
        form.locator("input[name=missing_other]").fill("户口簿复印件")
        c.shot("2-supplement-form.png")
        form.get_by_role("button").click()
        expect(page.locator(".alert-success")).to_contain_text("已办理")
        deliver_replies(runtime)  # the SMS to the resident, answered as a worker would
        page.reload()
        expect(page.locator("#case-status")).to_have_text("待补正")
        c.shot("3-awaiting-supplement.png")

        decide(runtime, "resident-zhang", "supplement", "submit", {})  # the resident answers
        page.reload()
        expect(page.locator("#decide-accept")).to_be_visible()
        expect(page.locator("#release")).to_be_visible()  # the answer came back to the officer who asked: theirs
        expect(page.locator("#timeline")).to_contain_text("退回提出补正的专干")
        page.locator("#decide-accept").get_by_role("button").click()
        expect(page.locator(".alert-success")).to_contain_text("已办理")
        deliver_replies(runtime)
        page.reload()
        expect(page.locator("#case-status")).to_have_text("街道审核中")
        c.shot("4-accepted.png")

        c.sign_out()
        c.sign_in(REVIEWER)
        page.get_by_role("link", name=number).click()
        page.locator("#claim").click()
        page.locator("#decide-approve").get_by_role("button").click()
        expect(page.locator("#timeline")).to_contain_text("陈建国")  # the reviewer by name, never a user name
        expect(page.locator("#opinions")).to_contain_text("经审查，符合条件，同意。")
        c.shot("5-approved.png")


def test_street_returns_a_case_to_intake_with_a_comment(runtime: Runtime, base_url: str) -> None:
    from playwright.sync_api import expect

    number = submit(runtime)
    comment = "申请表缺少本人签字，请社区核实后重新受理"
    with console(base_url) as c:
        page = c.page
        c.sign_in(OFFICER)
        page.get_by_role("link", name=number).click()
        page.locator("#claim").click()
        page.locator("#decide-accept").get_by_role("button").click()
        expect(page.locator(".alert-success")).to_contain_text("已办理")
        deliver_replies(runtime)
        page.reload()
        expect(page.locator("#case-status")).to_have_text("街道审核中")
        c.shot("return-1-accepted.png")
        c.sign_out()

        c.sign_in(REVIEWER)
        expect(page.locator("#inbox")).to_contain_text(number)
        page.get_by_role("link", name=number).click()
        page.locator("#claim").click()
        form = page.locator("#decide-return")
        expect(form.locator("select[name=to_step] option")).to_have_text(["社区受理"])
        form.locator("select[name=to_step]").select_option("intake")
        form.locator("textarea[name=comment]").fill(comment)
        c.shot("return-2-return-form.png")
        form.get_by_role("button").click()
        expect(page.locator(".alert-success")).to_contain_text("退回")
        expect(page.locator("#case-status")).to_have_text("待受理")
        expect(page.locator("#task-street_review")).to_have_count(0)  # no longer the street's to decide
        c.shot("return-3-returned.png")
        c.sign_out()

        c.sign_in(OFFICER)
        expect(page.locator("#inbox")).to_contain_text(number)
        c.shot("return-4-back-in-inbox.png")
        page.get_by_role("link", name=number).click()
        returned = page.locator("#timeline tr.kind-returned")
        expect(returned).to_contain_text(comment)
        expect(returned).to_contain_text("望京街道审核 陈建国")
        expect(page.locator("#decide-accept")).to_be_visible()
        c.shot("return-5-timeline.png")


def test_officer_transfers_a_task_to_a_colleague(runtime: Runtime, base_url: str) -> None:
    from playwright.sync_api import expect

    number = submit(runtime)
    with console(base_url) as c:
        page = c.page
        c.sign_in(OFFICER)
        page.get_by_role("link", name=number).click()
        page.locator("#claim").click()
        expect(page.locator("#release")).to_be_visible()
        page.locator("#transfer-to").select_option(COLLEAGUE)
        page.locator("#transfer-reason").fill("本人下周休假，转同社区专干办理")
        c.shot("transfer-1-form.png")
        page.locator("#transfer-form").get_by_role("button").click()
        expect(page.locator(".alert-success")).to_contain_text(COLLEAGUE)
        expect(page.locator("#inbox")).not_to_contain_text(number)
        c.shot("transfer-2-gone-from-inbox.png")
        c.sign_out()

        c.sign_in(COLLEAGUE)
        expect(page.locator("#inbox")).to_contain_text(number)
        c.shot("transfer-3-colleague-inbox.png")
        page.get_by_role("link", name=number).click()
        expect(page.locator("#release")).to_be_visible()  # theirs now, not to be claimed again
        transferred = page.locator("#timeline tr.kind-task_transferred")
        expect(transferred).to_contain_text("本人下周休假，转同社区专干办理")
        expect(transferred).to_contain_text("望京西园社区专干 李敏")
        c.shot("transfer-4-colleague-case.png")


def _fits_the_width(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


@pytest.mark.parametrize("viewport", [(1366, 768), (768, 1024)], ids=["office-screen", "tablet"])
def test_inbox_and_case_page_fit_an_office_screen_and_a_tablet(
    runtime: Runtime, base_url: str, viewport: tuple[int, int]
) -> None:
    from playwright.sync_api import expect

    number = submit(runtime)
    name = "office" if viewport[0] >= 1024 else "tablet"
    with console(base_url, viewport) as c:
        c.sign_in(OFFICER)
        expect(c.page.locator("#inbox")).to_contain_text(number)
        assert _fits_the_width(c.page), "the inbox scrolls sideways"
        c.shot(f"{name}-inbox.png")
        c.page.get_by_role("link", name=number).click()
        expect(c.page.locator("#case-status")).to_have_text("待受理")
        assert _fits_the_width(c.page), "the case page scrolls sideways"
        c.shot(f"{name}-case.png")
