"""The portal in a real browser: Debian's chromium driven by Playwright, on a phone and a desktop.

Chromium is never downloaded by Playwright here: ``make browser-deps`` installs Debian's ``chromium``
and ``fonts-wqy-microhei`` (without the font, Chinese renders as boxes in the screenshots).
Screenshots are kept under ``test-artifacts/portal/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from portal_support import JPEG, OFFICER, PDF, PNG, RESIDENT, approve, request_supplement, sent_code, submit
from sqlalchemy import select

from adapters.sandbox.people import find
from adapters.sandbox.server import SandboxServer
from huiju.app.seed import DEMO_APPLICANT, DEMO_PASSWORD
from huiju.models import Case, CaseStatus, Rating, Resident, User
from huiju.runtime import Runtime
from huiju.services.actors import load_actor
from tests.support.canned import deliver_replies
from tests.support.servers import serving

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
    with serving(app) as url:
        yield url


def launch(p: object) -> object:
    return p.chromium.launch(  # type: ignore[attr-defined]
        executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    )


def newcomer(runtime: Runtime) -> Resident:
    """A resident aged 60 or more of the demo officer's community, known to the citizen information
    sandbox, who has no account yet."""
    with runtime.db.sessions() as session:
        community = load_actor(session, OFFICER).org_id
        taken = set(session.scalars(select(User.resident_id).where(User.resident_id.is_not(None))))
        for resident in session.scalars(
            select(Resident).where(Resident.community_id == community).order_by(Resident.id)
        ):
            person = find(resident.id_number)
            if (
                resident.id not in taken
                and person is not None
                and person.age_on(person.birth_date.replace(year=2026)) >= 65
            ):
                return resident
    raise AssertionError("the seed has no elderly resident without an account in the demo community")


@pytest.mark.parametrize("device", sorted(VIEWPORTS))
def test_register_apply_supplement_approved_and_rate(
    runtime: Runtime, base_url: str, citizen_info: SandboxServer, device: str, tmp_path: Path
) -> None:
    """The whole road of a resident: register (identity checked by the citizen information sandbox, the
    phone by a code sent through the SMS sandbox),
    apply for the elderly-care subsidy with uploads, answer the officer's request for more material in
    the page, see the case approved, rate it."""
    _require_browser()
    from playwright.sync_api import expect, sync_playwright

    person = newcomer(runtime)
    assert person.phone, "the newcomer needs a phone on record: the registration code goes there"
    phone = person.phone
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = lambda page, name: page.screenshot(path=str(ARTIFACTS / f"{name}-{device}.png"), full_page=True)  # noqa: E731
    files = {"id.jpg": JPEG, "hukou.pdf": PDF, "hukou-copy.png": PNG}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    with sync_playwright() as p:
        browser = launch(p)
        try:
            width, height = VIEWPORTS[device]
            page = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN").new_page()  # type: ignore[attr-defined]
            page.goto(f"{base_url}/portal/register")
            page.get_by_label("手机号码").fill(phone)
            page.get_by_label("姓名（与身份证一致）").fill(person.name)
            page.get_by_label("身份证号").fill(person.id_number)
            page.get_by_label("密码（至少 8 位，含字母和数字）").fill("Shequ2026ok")
            page.get_by_label("再次输入密码").fill("Shequ2026ok")
            shot(page, "register")
            page.get_by_role("button", name="注册").click()
            expect(page.get_by_label("短信验证码")).to_be_visible()  # the phone is confirmed by a code
            page.get_by_label("短信验证码").fill(sent_code(citizen_info, phone))
            shot(page, "register-code")
            page.get_by_role("button", name="确认").click()
            expect(page.get_by_text("欢迎！账户已开通")).to_be_visible()

            page.goto(f"{base_url}/portal/items/elderly-care-subsidy")
            page.get_by_role("button", name="在线申请").click()
            expect(page.get_by_role("heading", name="申请表")).to_be_visible()
            page.get_by_label("家庭收入类别").select_option("subsistence")
            page.get_by_label("残疾等级").select_option("none")
            page.get_by_role("group", name="是否独居").get_by_label("是").check()
            page.get_by_label("居民身份证").set_input_files(str(tmp_path / "id.jpg"))
            page.get_by_role("button", name="保存草稿").click()
            expect(page.get_by_text("已保存")).to_be_visible()
            expect(page.get_by_role("link", name="id.jpg")).to_be_visible()
            page.get_by_label("户口簿", exact=False).first.set_input_files(str(tmp_path / "hukou.pdf"))
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            shot(page, "apply")
            page.get_by_role("button", name="提交", exact=True).click()
            expect(page.get_by_text("已提交。您的办件编号是")).to_be_visible()
            with runtime.db.sessions() as session:
                number = session.scalars(select(Case.number).where(Case.applicant_id == person.id)).one()
            expect(page.get_by_text(number).first).to_be_visible()
            shot(page, "submitted")

            deliver_replies(
                runtime
            )  # receipt SMS sent, identity and population data checked: the case waits for intake
            request_supplement(runtime, number, ["户口簿复印件（加盖派出所印章）"])
            page.reload()
            expect(page.get_by_label("户口簿复印件（加盖派出所印章）")).to_be_visible()
            expect(page.locator("#opinions")).to_contain_text("户口簿复印件（加盖派出所印章）")  # the 补正 note
            page.get_by_label("户口簿复印件（加盖派出所印章）").set_input_files(str(tmp_path / "hukou-copy.png"))
            shot(page, "supplement")
            page.get_by_role("button", name="提交补正材料").click()
            expect(page.get_by_text("谢谢，材料已提交给社区专干")).to_be_visible()
            with runtime.db.sessions() as session:
                assert session.scalars(select(Case.status).where(Case.number == number)).one() is CaseStatus.INTAKE

            approve(runtime)
            page.reload()
            expect(page.get_by_text("已办结").first).to_be_visible()
            page.get_by_label("非常满意").check()
            page.get_by_label("评价内容（选填）").fill("办事很快，谢谢社区。")
            page.get_by_role("button", name="提交评价").click()
            expect(page.get_by_text("感谢您的评价")).to_be_visible()
            shot(page, "rated")
            with runtime.db.sessions() as session:
                rating = session.scalars(select(Rating)).one()
                assert (rating.level, rating.comment) == (5, "办事很快，谢谢社区。")
        finally:
            browser.close()


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
            expect(page.get_by_text("10 个工作日内办结").first).to_be_visible()
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
