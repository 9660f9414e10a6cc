"""The console audited by axe-core at WCAG 2.1 AA in Debian's chromium: every page an officer, a
street reviewer and an administrator open, in Chinese and in English, on an office screen and a phone.
One violation fails the test (officers include people who use screen readers and magnifiers). Every
page is also scanned for codes of the domain shown to a person (tests/support/codes.py): a status,
decision, event kind, role, lane, system, operation or material code fails it too. Community services
are in the journey: the officer's page for a parent's consent, the provider's orders and services, the
operator's orders to watch, an order to dispatch by hand, the providers, complaints and settlements."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from console_support import OFFICER, REVIEWER, SON, decide, place_order, submit
from flask import Flask
from test_console_browser import console

from huiju.runtime import Runtime
from tests.support.codes import check_page
from tests.support.servers import serving

pytestmark = pytest.mark.slow
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

        def switch_to(username: str) -> None:
            """The next person signs in; signing out ended the session and the language chosen in it."""
            c.sign_out()
            page.goto(f"{base_url}/console/lang/{lang}")
            c.sign_in_as(username)

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
        page.goto(f"{base_url}/console/family/")
        audit(page, "a parent's consent at the service centre")
        decide(runtime, OFFICER, "intake", "refuse", {"reason_code": "outside_remit", "reason": "户籍不在本社区"})
        page.goto(f"{base_url}/console/cases/{refused}")
        expect(page.locator("#opinions")).to_contain_text("户籍不在本社区")
        audit(page, "a refused case with its opinions and documents")
        switch_to(REVIEWER)
        page.goto(f"{base_url}/console/cases/{number}")
        audit(page, "a case at street review")
        decide(runtime, REVIEWER, "street_review", "approve")
        page.goto(f"{base_url}/console/cases/{number}")
        audit(page, "a concluded case")
        page.goto(f"{base_url}/console/cases/nothing-here")
        audit(page, "the not-found page")
        switch_to("admin")
        page.goto(f"{base_url}/console/calendar/")
        audit(page, "the calendar")
        page.goto(f"{base_url}/console/cases/incidents")
        audit(page, "the incidents")
        # The administration and integration pages, the guides and the account's own password.
        entry = logged_message(runtime, refused)

        def visit(pages: list[tuple[str, str]]) -> None:
            for path, what in pages:
                shown = page.goto(f"{base_url}/console/{path}")
                assert shown is not None and shown.status == 200, (path, shown and shown.status)
                audit(page, what)

        visit([
            ("users/", "the users"),
            ("users/?role=community_officer", "the users of one role"),
            (f"users/{OFFICER}", "a user with their role and office"),
            ("roster/", "the roster import"),
            ("items/", "the item catalogue"),
            ("items/elderly-care-subsidy", "one item's form, its supplement wait in days"),
            ("audit/", "the audit trail"),
            ("help/", "the guides"),
            ("account/password", "the account's password"),
        ])  # fmt: skip
        switch_to("integrator")
        from certs.store import init_dev_pki

        init_dev_pki(runtime.settings.resolved_certs_folder)  # the certificate store has something to show
        visit([
            ("adapters/", "the adapters"),
            ("adapters/sms", "one adapter"),
            ("messages/", "the message log"),
            (f"messages/{entry}", "one message"),
            ("certificates/", "the certificates"),
        ])  # fmt: skip
        if device == "desktop":  # (on a phone, Bootstrap's collapse marks its panel aria-expanded: not yet checked)
            page.locator("li.dropdown > a.dropdown-toggle").first.click()
            expect(page.locator("li.dropdown.open .dropdown-menu")).to_be_visible()
            audit(page, "a menu opened")

        # Community services: the provider's pages, then the operator's, each with something to show.
        unassigned = orders_at_every_turn(runtime)
        switch_to("provider-yiyang")
        visit([
            ("provider/", "the provider's orders, offered and taken"),
            ("provider/services", "the provider's services and slots"),
        ])  # fmt: skip
        switch_to("operator")
        visit([
            ("operator/", "the orders to watch"),
            (f"operator/orders/{unassigned}", "an order to dispatch by hand"),
            ("operator/providers", "the providers"),
            ("operator/complaints", "the complaints"),
            ("operator/settlements", "last month's settlements"),
        ])  # fmt: skip


def orders_at_every_turn(runtime: Runtime) -> str:
    """Orders as the provider's and the operator's pages show them: one offered to 颐养, one 颐养 is on its
    way to, one that nobody took (the son complains about it), and last month settled for 颐养; the
    number of the one nobody took."""
    from sqlalchemy import select

    from huiju.models import Provider, Settlement, SettlementStatus
    from huiju.services.actors import load_actor
    from huiju.services.o2o import dispatch, feedback
    from huiju.services.o2o.settlement import last_month
    from tests.support.canned import deliver_replies

    def step(username: str, act: Any) -> None:
        with runtime.db.transaction() as session:
            act(session, load_actor(session, username))
        deliver_replies(runtime)

    place_order(runtime)  # waits for 颐养's answer
    taken, unassigned = place_order(runtime), place_order(runtime)
    step("provider-yiyang", lambda s, a: dispatch.answer_offer(s, runtime.engine, a, taken, accept=True))
    step("provider-yiyang", lambda s, a: dispatch.arrive(s, runtime.engine, a, taken))
    step("provider-yiyang", lambda s, a: dispatch.answer_offer(s, runtime.engine, a, unassigned, accept=False,
                                                               reason="今日送餐员不足"))  # fmt: skip
    step("provider-leshan", lambda s, a: dispatch.answer_offer(s, runtime.engine, a, unassigned, accept=False,
                                                               reason="超出配送能力"))  # fmt: skip
    step(SON, lambda s, a: feedback.raise_complaint(s, runtime.engine, a, unassigned, "下单很久了还没有人接单"))
    with runtime.db.transaction() as session:
        yiyang = session.scalars(select(Provider).where(Provider.code == "YIYANG")).one()
        session.add(Settlement(provider_id=yiyang.id, month=last_month(), orders=1, total_fen=1500, credit_fen=1500,
                               cash_fen=0, fee_fen=75, payable_fen=1425, record={}, status=SettlementStatus.PUBLISHED,
                               record_id="DX-2026-0001", created_by="operator"))  # fmt: skip
    return unassigned


def logged_message(runtime: Runtime, number: str) -> int:
    """A reply of the SMS platform in the message log, and the case's first message dead; the entry's id."""
    from sqlalchemy import select

    from exchange.log import append
    from exchange.models import MessageStatus, OutboxMessage

    with runtime.db.transaction() as session:
        dead = session.scalars(select(OutboxMessage).where(OutboxMessage.case_number == number)).first()
        assert dead is not None
        dead.status, dead.last_error = MessageStatus.DEAD, "the system did not answer after 5 attempts"
        entry = append(session, direction="in", kind="reply", outcome="delivered", message_id="m-7",
                       related_message_id="m-7", system="sms", operation="sms.send_sms", case_number=number,
                       envelope='<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
                                "<soap:Body><r>ok</r></soap:Body></soap:Envelope>",
                       signature_status="valid", verification="signed by CN=sandbox signing")  # fmt: skip
        return int(entry.id)
