"""The administration and integration pages in Debian's chromium (Playwright, headless).

An integrator sets the SMS adapter's endpoint to a wrong one, tests the connection and reads why it
failed, then sets it back and sees the signed request and the verified reply (a secure sandbox:
mTLS and signed messages). An administrator creates an account, imports a roster with a dry run
first and reads the report. Screenshots go to ``test-artifacts/console/``; with
``HUIJU_GUIDE_SCREENSHOTS=1`` those the guides show are copied to ``docs/images/`` as well (how the
guides' pictures are taken anew when a page changes)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_support import OFFICER, submit
from flask import Flask
from sqlalchemy import update

from adapters.config import AdapterConfig
from adapters.sandbox.server import SandboxServer
from adapters.tls import ServerTls
from certs.store import init_dev_pki, load_signing_identity
from certs.trust import TrustStore
from huiju.runtime import Runtime
from tests.console.test_console_browser import ARTIFACTS, console
from tests.support.servers import free_port, serving

sys.path.insert(0, str(Path(__file__).parents[1] / "admin"))
from roster_support import csv_bytes  # noqa: E402

DOCS_IMAGES = Path(__file__).parents[2] / "docs" / "images"


def keep_for_the_guides(name: str) -> None:
    """The guides show what the browser tests saw (copied only when asked: a test run leaves the tree as it was)."""
    assert (ARTIFACTS / name).stat().st_size > 10_000, f"{name} looks empty"
    if os.environ.get("HUIJU_GUIDE_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ARTIFACTS / name, DOCS_IMAGES / name)


@pytest.fixture
def secure_sandbox(runtime: Runtime) -> Iterator[SandboxServer]:
    folder = runtime.settings.resolved_certs_folder
    init_dev_pki(folder)
    server = SandboxServer(trust=TrustStore.watching(folder), signer=load_signing_identity(folder, "sandbox"),
                           tls=ServerTls.from_store(folder, "sandbox"))  # fmt: skip
    with server:
        with runtime.db.transaction() as session:
            for system in ("citizen_info", "sms", "egov_approval", "data_exchange"):
                session.execute(update(AdapterConfig).where(AdapterConfig.system == system)
                                .values(endpoint=f"{server.url}/{system}"))  # fmt: skip
        yield server


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    with serving(app) as url:
        yield url


def test_integrator_breaks_the_sms_endpoint_reads_the_failure_and_sets_it_back(
    runtime: Runtime, secure_sandbox: SandboxServer, base_url: str
) -> None:
    from playwright.sync_api import expect

    good = f"{secure_sandbox.url}/sms"
    wrong = f"https://127.0.0.1:{free_port()}/sms"
    with console(base_url) as c:
        page = c.page
        c.sign_in("integrator")
        expect(page.locator("#adapters")).to_contain_text("短信平台")
        c.shot("integrator-1-adapters.png")
        keep_for_the_guides("integrator-1-adapters.png")
        page.locator("#adapters tr[data-system=sms] a").click()
        page.locator("#endpoint").fill("http://127.0.0.1/sms")
        page.locator("#adapter-settings button[type=submit]").click()
        expect(page.locator(".alert-danger")).to_contain_text("安全模式下接口地址须使用 https")
        expect(page.locator("#endpoint")).to_have_value(good)  # nothing was saved
        page.locator("#endpoint").fill(wrong)
        page.locator("#adapter-settings button[type=submit]").click()
        expect(page.locator(".alert-success")).to_contain_text("短信平台")
        page.locator("#test-connection button").click()
        expect(page.locator("#test-verdict")).to_have_text("失败")
        expect(page.locator("#test-explanation")).to_have_text(f"无法连接到 {wrong}：该地址无服务应答，或连接被拒绝")
        expect(page.locator("#test-request")).to_contain_text("SignatureValue")
        c.shot("integrator-2-wrong-endpoint.png")
        keep_for_the_guides("integrator-2-wrong-endpoint.png")

        page.locator("#endpoint").fill(good)
        page.locator("#adapter-settings button[type=submit]").click()
        expect(page.locator("#endpoint")).to_have_value(good)
        page.locator("#test-connection button").click()
        expect(page.locator("#test-verdict")).to_have_text("连接正常")
        expect(page.locator("#test-signature")).to_have_text("验签通过")
        expect(page.locator("#test-reply")).to_contain_text("requestHash")
        expect(page.locator("#test-round-trip")).to_contain_text("ms")
        c.shot("integrator-3-connected.png")
        keep_for_the_guides("integrator-3-connected.png")

        page.locator("#test-message").click()  # the test's own message, in the message log
        expect(page.locator("#message-log")).to_contain_text("查询短信送达")  # the operation in words
        page.locator("#message-log tbody tr").first.locator("a").first.click()
        expect(page.locator("#envelope")).to_contain_text("ExchangeHeader")
        c.shot("integrator-4-message.png")
        keep_for_the_guides("integrator-4-message.png")


def test_administrator_creates_an_account_and_imports_a_roster(runtime: Runtime, base_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    roster = tmp_path / "望京西园社区居民信息.csv"
    roster.write_bytes(csv_bytes(runtime))
    with console(base_url) as c:
        page = c.page
        c.sign_in("admin")
        page.goto(f"{base_url}/console/users/")
        page.locator("#c-username").fill("officer-wjxy-06")
        page.locator("#c-name").fill("望京西园社区专干 郑红")
        page.locator("#c-role").select_option("community_officer")
        page.locator("#c-office").select_option("110105001001")
        page.locator("#create-user button").click()
        expect(page.locator(".alert-success")).to_contain_text("临时密码")
        expect(page.locator("#user-office")).to_have_text("望京西园社区")
        c.shot("admin-1-account.png")
        keep_for_the_guides("admin-1-account.png")

        page.goto(f"{base_url}/console/roster/")
        page.locator("#roster-file").set_input_files(str(roster))
        page.locator("#roster-dry-run").check()
        page.locator("#roster-upload button").click()
        expect(page.locator("#count-added")).to_have_text("2")  # the script ran the chunks, the page reloaded
        expect(page.locator("#roster-progress")).to_have_text("3 / 3")
        expect(page.locator("#roster-refusals tr[data-row='5']")).to_contain_text("未知社区 望京东园社区")
        c.shot("admin-2-roster-dry-run.png")
        keep_for_the_guides("admin-2-roster-dry-run.png")

        submit(runtime)
        page.goto(f"{base_url}/console/audit/")
        expect(page.locator("#audit")).to_contain_text("导入居民信息")
        c.shot("admin-3-audit.png")
        keep_for_the_guides("admin-3-audit.png")


def test_officer_manual_screenshots(runtime: Runtime, base_url: str) -> None:
    """What the officer's manual shows: the inbox, a case file, and the help menu."""
    from playwright.sync_api import expect

    number = submit(runtime)
    with console(base_url) as c:
        page = c.page
        c.sign_in(OFFICER)
        expect(page.locator("#inbox")).to_contain_text(number)
        c.shot("officer-1-inbox.png")
        keep_for_the_guides("officer-1-inbox.png")
        page.get_by_role("link", name=number).click()
        expect(page.locator("#case-status")).to_have_text("待受理")
        c.shot("officer-2-case.png")
        keep_for_the_guides("officer-2-case.png")
        page.locator("#claim").click()
        expect(page.locator("#release")).to_be_visible()
        c.shot("officer-3-claimed.png")
        keep_for_the_guides("officer-3-claimed.png")
