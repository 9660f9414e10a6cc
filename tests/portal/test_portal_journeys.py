"""The resident's journeys in Debian's chromium, in Chinese and in English, on a phone and a desktop,
every page checked twice: no code of the domain is shown (tests/support/codes.py) and axe-core finds
no WCAG 2.1 AA violation (tests/support/axe.py).

The journeys: the catalogue and its search, an item, the help page, an expired form, the sign-in
throttle's page, signing in, the password page and its error, applying with a mistake (the errors
beside their fields, the summary taking the focus, the good file kept), submitting, "my cases" with
the time left, answering a request for more material (补正) with one bad file (named, the good one
kept), the approval with its outcome and documents, and a refusal with its reason. Then community
services: the resident orders a meal for herself (the services, the order form, the order being
dispatched, her orders), and her son, linked to her, sees his family link, the services he may order
for her and her service-credit statement.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from portal_support import JPEG, OFFICER, PDF, PNG, RESIDENT, approve, decide, request_supplement, submit
from sqlalchemy import select
from test_portal_o2o import SON, link_at_centre

from huiju.app.seed import DEMO_APPLICANT, DEMO_PASSWORD
from huiju.models import Case, CaseStatus
from huiju.runtime import Runtime
from tests.support.axe import describe, rule_results
from tests.support.canned import deliver_replies
from tests.support.codes import check_page
from tests.support.servers import serving

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "portal"
VIEWPORTS = {"phone": (360, 740), "desktop": (1366, 768)}
#: The words the steps look for, per language (the rest goes by element ids).
WORDS = {
    "zh": {"subsidy": "居家养老服务补贴", "refused": "不予受理", "approved": "准予", "reason": "户籍不在本社区"},
    "en": {"subsidy": "Home-based elderly care service subsidy", "refused": "Not accepted", "approved": "Approved",
           "reason": "户籍不在本社区"},
}  # fmt: skip


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    with serving(app) as url:
        yield url


def _browser(p: Any) -> Any:
    if not CHROMIUM.exists():
        pytest.fail("browser tests need Debian's chromium: run `make browser-deps`", pytrace=False)
    return p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                             args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])  # fmt: skip


def _fits(page: Any, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{page.url} is wider than the screen"


def _luminance(css: str) -> float:
    r, g, b = (int(v) / 255 for v in re.findall(r"\d+(?:\.\d+)?", css)[:3])
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _focus_ring(page: Any, selector: str) -> None:
    """The control shows a focus ring at 3:1 or more against the white card (WCAG 1.4.11, 2.4.7)."""
    page.locator(selector).focus()
    style, width, colour = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth, s.outlineColor]; }"
    )
    lighter, darker = sorted((_luminance(colour), 1.0), reverse=True)
    assert style == "solid" and float(width.removesuffix("px")) >= 2, (selector, style, width)
    assert (lighter + 0.05) / (darker + 0.05) >= 3, (selector, colour)


def _statement_reads(page: Any) -> None:
    """The credit statement reads on the screen it is on: each date on one line, every figure inside
    the card (the lines of a date are told apart by the tops of its text's boxes)."""
    rows = page.locator("#statement").evaluate("""t => {
      const card = t.closest('.card').getBoundingClientRect();
      return [...t.tBodies[0].rows].map(r => {
        const date = document.createRange();
        date.selectNodeContents(r.cells[0]);
        return {date: r.cells[0].textContent, lines: new Set([...date.getClientRects()].map(b => Math.round(b.top))).size,
                inside: [...r.cells].every(c => c.getBoundingClientRect().right <= card.right)};
      });
    }""")
    assert rows, "the statement has no entries"
    for row in rows:
        assert row["lines"] == 1, f"{page.url}: the date {row['date']} is broken over {row['lines']} lines"
        assert row["inside"], f"{page.url}: an entry of {row['date']} runs out of its card"


def _community_services(page: Any, check: Callable[[str], None], runtime: Runtime, base_url: str, shown: str) -> None:
    """Community services, each page once: the resident (signed in) orders a meal for herself; then her
    son, linked to her at the service centre, opens his links, her services and her credit statement."""
    from playwright.sync_api import expect

    page.goto(f"{base_url}/portal/services")
    expect(page.locator("#balance")).to_be_visible()
    check("community services")
    page.locator("#offerings li[data-service=YY-MEAL] a").click()
    expect(page.locator("#order-form")).to_be_visible()
    check("a service's order form")
    page.locator("#order-form input[name=slot]").first.check()
    page.locator("#address").fill("望京西园四区7号楼2单元302")
    page.locator("#phone").fill("13700001965")
    page.locator("#order-form button[type=submit]").click()
    expect(page.locator("#order-status")).to_be_visible()
    deliver_replies(runtime)  # offered to a provider: the cancel and complaint forms are there
    page.reload()
    expect(page.locator("#progress li[aria-current=step]")).to_have_count(1)
    check("an order being dispatched")
    page.goto(f"{base_url}/portal/orders")
    expect(page.locator("#orders li")).to_have_count(1)
    check("my orders")
    page.locator("form[action$='/portal/logout'] button").click()
    link_at_centre(runtime)
    page.goto(f"{base_url}/portal/login")
    page.locator("#login").fill(SON)
    page.locator("#password").fill(DEMO_PASSWORD)
    page.locator("form.form button[type=submit]").click()
    expect(page.locator(".tiles")).to_be_visible()
    page.goto(f"{base_url}/portal/family")
    page.locator("#links details.end-link summary").first.click()  # the question before ending a link
    check("family links")
    page.goto(f"{base_url}/portal/services")
    expect(page.locator("#for option")).to_have_count(1)
    check("community services for a linked parent")
    page.locator("#balance a").click()
    expect(page.locator("#statement tbody tr").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / f"journey-credit-{shown}.png"), full_page=True)
    check("a parent's service-credit statement")
    _statement_reads(page)


def _number_of(runtime: Runtime, status: CaseStatus | None = None) -> str:
    with runtime.db.sessions() as session:
        stmt = select(Case.number).order_by(Case.id.desc())
        if status is not None:
            stmt = stmt.where(Case.status == status)
        return str(session.scalars(stmt).first())


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("device", sorted(VIEWPORTS))
def test_resident_journeys_show_no_codes_and_pass_axe(
    runtime: Runtime, base_url: str, lang: str, device: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    words = WORDS[lang]
    width, height = VIEWPORTS[device]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    files = {"id.jpg": JPEG, "hukou.pdf": PDF, "wrong.pdf": PNG, "copy.png": PNG}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            # bypass_csp: the portal allows no script at all; axe-core is the test's, injected from outside.
            context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                          has_touch=device == "phone", bypass_csp=True)  # fmt: skip
            page = context.new_page()

            def check(what: str) -> None:
                check_page(page, f"{what} ({lang}, {device})", lang)
                _fits(page, width)

            # Before signing in: the catalogue, its search, an item, the sign-in and registration pages.
            page.goto(f"{base_url}/portal/items?lang={'en' if lang == 'en' else 'zh_CN'}")
            expect(page.locator("html")).to_have_attribute("lang", "en" if lang == "en" else "zh-CN")
            check("the catalogue")
            page.locator("#q").fill("ylbt")
            page.locator("form.search button[type=submit]").click()
            expect(page.locator("#results a.item-tile").first).to_contain_text(words["subsidy"])
            check("the catalogue's search results")
            tile = page.locator("#results a.item-tile").first.bounding_box()
            assert tile is not None and tile["height"] >= 44, "a catalogue entry is a large tap target"
            page.locator("#results a.item-tile").first.click()
            check("an item's guide")
            page.goto(f"{base_url}/portal/register")
            check("the registration page")
            page.goto(f"{base_url}/portal/no-such-page")
            check("the not-found page")
            page.goto(f"{base_url}/portal/help")
            check("the help page")
            page.goto(f"{base_url}/portal/login")
            check("the sign-in page")
            # A form kept open too long (its token gone): the expired-form page.
            page.locator("#login").fill(RESIDENT)
            page.locator("#password").fill("not-the-password-1")
            page.evaluate("document.querySelector('form.form input[name=csrf_token]').value = 'stale'")
            page.locator("form.form button[type=submit]").click()
            expect(page.locator("p.alert[role=alert]")).to_be_visible()
            check("the expired-form page")
            # Failed sign-ins of one account, fast: the throttle's page (each next try waits longer).
            status = 0
            for _attempt in range(12):
                page.goto(f"{base_url}/portal/login")
                page.locator("#login").fill("13800000000")
                page.locator("#password").fill("not-the-password-1")
                with page.expect_response(
                    lambda r: r.url.endswith("/portal/login") and r.request.method == "POST"
                ) as sent:
                    page.locator("form.form button[type=submit]").click()
                status = sent.value.status
                if status == 429:
                    break
            assert status == 429, "the sign-in throttle never answered"
            check("the too-many-attempts page")
            page.goto(f"{base_url}/portal/login")
            page.locator("#login").fill(RESIDENT)
            page.locator("#password").fill(DEMO_PASSWORD)
            page.locator("form.form button[type=submit]").click()
            expect(page.locator(".tiles")).to_be_visible()
            check("the home page")
            page.goto(f"{base_url}/portal/account/password")
            check("the password page")
            page.locator("#current_password").fill("not-the-password-1")
            page.locator("#new_password").fill("a-new-password-2")
            page.locator("#new_password2").fill("a-new-password-2")
            page.locator("#password-form button[type=submit]").click()
            expect(page.locator("#password-error")).to_be_visible()
            check("the password page with an error")

            # Applying for a family member, with a name and an ID number that name no one.
            page.goto(f"{base_url}/portal/items/elderly-care-subsidy/apply-for")
            check("applying for a family member")
            page.locator("#name").fill("李不对")
            page.locator("#id_number").fill(DEMO_APPLICANT)
            page.locator("#relation").select_option("child")
            page.locator("form.form button[type=submit]").click()
            expect(page.locator("#error-summary")).to_be_focused()
            expect(page.locator("#id_number")).to_have_attribute("aria-invalid", "true")
            check("applying for a family member, with an error")

            # Applying, with a mistake first: nothing chosen, one wrong file, one good file.
            page.goto(f"{base_url}/portal/items/elderly-care-subsidy")
            page.locator("form[action$='/apply'] button[type=submit]").click()
            expect(page.locator("#f-income_band")).to_be_visible()
            check("a new application")
            page.locator("#file-id_card").set_input_files(str(tmp_path / "wrong.pdf"))
            page.locator("#file-household_register").set_input_files(str(tmp_path / "hukou.pdf"))
            page.locator("button[name=action][value=submit]").click()
            summary = page.locator("#error-summary")
            expect(summary).to_be_visible()
            expect(summary).to_be_focused()
            expect(page.locator("#f-income_band")).to_have_attribute("aria-invalid", "true")
            expect(page.locator("#f-income_band-error")).to_be_visible()
            expect(page.locator("#file-id_card-error")).to_be_visible()
            expect(page.locator("#file-id_card")).to_have_attribute("aria-invalid", "true")
            expect(page.locator(".files.kept a", has_text="hukou.pdf")).to_be_visible()  # the good file is kept
            page.screenshot(path=str(ARTIFACTS / f"journey-errors-{lang}-{device}.png"), full_page=True)
            check("the application with errors")
            _focus_ring(page, "#f-disability")  # a select
            summary.locator("a[href='#f-income_band']").click()
            expect(page.locator("#f-income_band")).to_be_focused()
            page.locator("#f-income_band").select_option("subsistence")
            page.locator("#f-disability").select_option("none")
            page.locator("#f-living_alone input[value=true]").check()
            page.locator("#file-id_card").set_input_files(str(tmp_path / "id.jpg"))
            page.locator("button[name=action][value=submit]").click()
            expect(page.locator("#case-status")).to_be_visible()
            number = _number_of(runtime)
            check("a case just submitted")
            page.goto(f"{base_url}/portal/cases")
            row = page.locator(f"li[data-case='{number}']")
            expect(row.locator(".left")).to_be_visible()  # the time left on "my cases"
            check("my cases")

            # 补正: the officer asks for two materials; one bad file is named, the good one kept.
            deliver_replies(runtime)
            request_supplement(runtime, number, ["户口簿复印件（加盖派出所印章）", "近期免冠照片"])
            page.goto(f"{base_url}/portal/cases/{number}")
            expect(page.locator("#supplement-0")).to_be_visible()
            check("a case waiting for more material")
            _focus_ring(page, "#note")  # a text area
            # 待补正 at AA here; in large-text mode at AAA (7:1), like every text there.
            page.locator("header.site button[name=display][value=large]").click()
            expect(page.locator("html.display-large")).to_have_count(1)
            aaa = rule_results(page, ["color-contrast-enhanced"], "#case-status")
            assert not aaa["violations"], describe(aaa["violations"])
            assert [n for r in aaa["passes"] for n in r["nodes"]], "the status text was not checked"
            check("a case waiting for more material, in large text")
            page.locator("header.site button[name=display][value=standard]").click()
            expect(page.locator("html.display-standard")).to_have_count(1)
            page.locator("#supplement-0").set_input_files(str(tmp_path / "copy.png"))
            page.locator("#supplement-1").set_input_files(str(tmp_path / "wrong.pdf"))
            page.locator("#supplement button.primary").click()
            expect(page.locator("#error-summary")).to_be_focused()
            expect(page.locator("#supplement-1-error")).to_be_visible()
            expect(page.locator("#supplement .kept a", has_text="copy.png")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / f"journey-supplement-{lang}-{device}.png"), full_page=True)
            check("a 补正 answer with a bad file")
            page.locator("#supplement-1").set_input_files(str(tmp_path / "id.jpg"))
            page.locator("#supplement button.primary").click()
            expect(page.locator("[role=status]").first).to_be_visible()
            check("a case after the answer")
            with runtime.db.sessions() as session:
                assert session.scalars(select(Case.status).where(Case.number == number)).one() is CaseStatus.INTAKE

            # Approved: the outcome in words, the documents, the clock stopped, the rating form.
            approve(runtime)
            page.reload()
            expect(page.locator("#outcome")).to_contain_text(words["approved"])
            expect(page.locator("#documents a").first).to_be_visible()
            check("an approved case")
            page.goto(f"{base_url}/portal/cases")
            check("my cases with a concluded case")

            # Refused: the reason on the case's page.
            refused = submit(runtime, RESIDENT, DEMO_APPLICANT)
            deliver_replies(runtime)
            decide(runtime, OFFICER, "intake", "refuse", {"reason": words["reason"]})
            page.goto(f"{base_url}/portal/cases/{refused}")
            expect(page.locator("#case-status")).to_contain_text(words["refused"])
            expect(page.locator("#outcome")).to_contain_text(words["reason"])
            check("a refused case")

            _community_services(page, check, runtime, base_url, f"{lang}-{device}")
        finally:
            browser.close()
