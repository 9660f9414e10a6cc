"""Community services in a real browser on a phone (360 × 740): a son orders meals for his mother, follows
the order, confirms it was done and rates it; a son pays what the credit does not cover on the payment
platform's checkout page. Screenshots under ``test-artifacts/portal/``."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update
from test_portal_browser import ARTIFACTS, VIEWPORTS, _require_browser, launch
from test_portal_o2o import SON, link_at_centre

from adapters.config import AdapterConfig
from adapters.sandbox.server import SandboxServer
from adapters.tls import ServerTls
from certs.store import load_signing_identity
from certs.trust import TrustStore
from exchange import delivery
from exchange.models import MessageStatus, OutboxMessage
from huiju.app.seed import DEMO_APPLICANT, DEMO_PASSWORD
from huiju.models import Order, OrderRating, OrderStatus, PaymentStatus, Resident
from huiju.runtime import Runtime
from huiju.services.actors import load_actor
from huiju.services.materials import UploadStore
from huiju.services.o2o import credit, dispatch, orders
from tests.support.canned import deliver_replies
from tests.support.seeded import bookable_slot
from tests.support.servers import serving


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    with serving(app) as url:
        yield url


PHONE_WIDTH = VIEWPORTS["phone"][0]


@contextmanager
def son_at_community_services(base_url: str, shots: str) -> Iterator[tuple[Any, Callable[[str], Any]]]:
    """The son signed in on a phone, on the portal's 社区服务 page; and a camera for the page,
    ``shot(name)`` saving ``{shots}-{name}-phone.png`` among the artifacts."""
    from playwright.sync_api import sync_playwright

    width, height = VIEWPORTS["phone"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN").new_page()  # type: ignore[attr-defined]

            def shot(name: str) -> Any:
                return page.screenshot(path=str(ARTIFACTS / f"{shots}-{name}-phone.png"), full_page=True)

            page.goto(f"{base_url}/portal/login")
            page.get_by_label("用户名或手机号").fill(SON)
            page.get_by_label("密码").fill(DEMO_PASSWORD)
            page.get_by_role("button", name="登录").click()
            page.get_by_role("navigation").get_by_role("link", name="社区服务").click()
            yield page, shot
        finally:
            browser.close()  # type: ignore[attr-defined]


def provider_serves(runtime: Runtime, number: str) -> None:
    """颐养's dispatcher accepts, goes, and finishes (their own pages are tested in the console)."""
    for step in ("accept", "arrive", "finish"):
        with runtime.db.transaction() as session:
            actor = load_actor(session, "provider-yiyang")
            if step == "accept":
                dispatch.answer_offer(session, runtime.engine, actor, number, accept=True)
            elif step == "arrive":
                dispatch.arrive(session, runtime.engine, actor, number)
            else:
                dispatch.finish(session, runtime.engine, UploadStore.from_settings(runtime.settings), actor, number,
                                "午餐两份已送到，老人已用餐")  # fmt: skip
        deliver_replies(runtime)


def test_a_son_orders_follows_confirms_and_rates_on_a_phone(runtime: Runtime, base_url: str) -> None:
    _require_browser()
    from playwright.sync_api import expect

    link_at_centre(runtime)
    with son_at_community_services(base_url, "o2o") as (page, shot):
        shot("home")
        expect(page.get_by_label("为谁下单")).to_contain_text("张秀英")
        expect(page.locator("#balance")).to_contain_text("¥600.00")
        page.get_by_role("link", name="助餐送餐", exact=True).click()
        expect(page.locator("#offerings li")).to_have_count(2)  # 颐养 and 乐膳 both deliver here
        expect(page.locator("#offerings li").first.locator(".area")).to_have_text("服务范围：望京西园社区等 2 个社区")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
        shot("services")
        page.locator("#offerings a", has_text="望京颐养居家养老服务中心").click()
        expect(page.get_by_role("heading", name="助餐送餐（午餐）")).to_be_visible()
        expect(page.locator("#service-area")).to_contain_text("望京西园社区")
        page.locator("input[name=slot]").first.check()
        page.get_by_label("数量").fill("2")
        page.get_by_label("服务地址").fill("望京西园四区7号楼2单元302")
        page.get_by_label("您的手机号（接收各环节短信）").fill("13700001965")
        page.get_by_label("给服务商的留言（选填）").fill("少盐，软一点")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
        shot("order-form")
        page.get_by_role("button", name="提交订单").click()
        expect(page.get_by_text("已提交，每个环节都会短信告知")).to_be_visible()
        expect(page.locator("#credit-part")).to_have_text("¥30.00")
        with runtime.db.sessions() as session:
            number = session.scalars(select(Order.number)).one()
        deliver_replies(runtime)  # SMS sent: offered to 颐养
        page.reload()
        expect(page.locator("#progress li[aria-current=step]")).to_have_text("派单中")
        shot("following")
        provider_serves(runtime, number)
        page.get_by_role("link", name="我的订单").first.click()
        expect(page.locator("#orders")).to_contain_text("服务完成")
        page.locator("#orders a").first.click()
        expect(page.get_by_text("午餐两份已送到，老人已用餐", exact=True)).to_be_visible()
        expect(page.locator("#provider")).to_contain_text("望京颐养居家养老服务中心")
        # When the timer confirms it on its own, not "after a few days".
        auto = re.compile(r"将于 \d{4}/\d{1,2}/\d{1,2} \d{1,2}:\d{2} 自动确认")
        expect(page.locator("#confirm-by")).to_have_text(auto)
        shot("done")
        page.get_by_role("button", name="是的，已完成").click()
        expect(page.get_by_text("谢谢，订单已确认完成")).to_be_visible()
        expect(page.locator("#order-status")).to_have_text("已确认完成")
        page.get_by_label("非常满意").check()
        page.get_by_label("评价内容（选填）").fill("送得准时，饭菜可口")
        page.get_by_role("button", name="提交评价").click()
        expect(page.get_by_text("感谢您的评价")).to_be_visible()
        expect(page.locator("#timeline")).to_contain_text("评价：非常满意")  # in words, never the level's number
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
        shot("rated")
        # The credit statement and the family links, on the same phone.
        page.get_by_role("navigation").get_by_role("link", name="社区服务").click()
        page.locator("#balance").get_by_role("link", name="明细").click()
        expect(page.locator("#credit-balance")).to_contain_text("¥570.00")  # ¥600.00 less the ¥30.00 spent
        expect(page.locator("#statement tbody tr")).to_have_count(2)  # the top-up, the order
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
        shot("credit")
        page.get_by_role("navigation").get_by_role("link", name="社区服务").click()
        page.locator("#family-link").click()  # another parent can be linked from the services page
        expect(page.locator("#links")).to_contain_text("张秀英")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
        shot("family")
    with runtime.db.sessions() as session:
        found = session.scalars(select(Order).where(Order.number == number)).one()
        assert found.status is OrderStatus.CONFIRMED and found.credit_fen == 3000
        rating = session.scalars(select(OrderRating)).one()
        assert (rating.level, rating.comment) == (5, "送得准时，饭菜可口")


# -- paying the cash part on the payment platform's checkout page ---------------------------------------------


def spend_credit_down_to(runtime: Runtime, keep_fen: int) -> None:
    """The mother's credit spent on other meals (¥15 each, ordered by her son) until ``keep_fen`` is left."""
    with runtime.db.sessions() as session:
        mother = session.scalars(select(Resident.id).where(Resident.id_number == DEMO_APPLICANT)).one()
        left = credit.balance(session, mother)
    while left > keep_fen:
        meals = min(10, (left - keep_fen) // 1500)
        with runtime.db.transaction() as session:
            placement = orders.Placement(service_code="LS-MEAL", beneficiary_id=mother, quantity=meals,
                                         slot_id=bookable_slot(session, "LS-MEAL", meals),
                                         address="望京西园四区7号楼2单元302", contact_phone="13700001965")  # fmt: skip
            orders.place_order(session, runtime.engine, load_actor(session, SON), placement)
        left -= meals * 1500
    deliver_replies(runtime)


@pytest.fixture
def payment_platform(runtime: Runtime, pki: Path, base_url: str) -> Iterator[SandboxServer]:
    """The payment platform in secure mode, its payer a person on its checkout page, calling back the web
    process under test; the payment adapter pointed at it."""
    with SandboxServer(
        port=0, trust=TrustStore.load(pki), signer=load_signing_identity(pki, "sandbox"),
        tls=ServerTls.from_store(pki, "sandbox"), callback_url=f"{base_url}/exchange/soap", callback_delay=0.0,
        payer="checkout",
    ) as server:  # fmt: skip
        with runtime.db.transaction() as session:
            session.execute(update(AdapterConfig).where(AdapterConfig.system == "payment")
                            .values(endpoint=f"{server.url}/payment", operation_timeout=5.0))  # fmt: skip
        yield server


def deliver_for_real(runtime: Runtime) -> None:
    """The payment calls of the outbox sent to the platform as the worker sends them (signed, over mutual
    TLS), their replies fed back to the process; the SMS answered in-process."""
    while True:
        deliver_replies(runtime, operations={"sms.send_sms"})
        with runtime.db.sessions() as session:
            due = session.scalars(
                select(OutboxMessage.message_id).where(OutboxMessage.operation.like("payment.%"),
                                                       OutboxMessage.status == MessageStatus.PENDING)
            ).all()  # fmt: skip
        if not due:
            return
        for message_id in due:
            status = delivery.deliver(runtime.db, message_id, lease_seconds=30, security=runtime.security)
            assert status is MessageStatus.DELIVERED, f"{message_id}: {status}"
            with runtime.db.transaction() as session:
                runtime.engine.settle(session, message_id)


def paid(runtime: Runtime, number: str, seconds: float = 20.0) -> Order:
    """The order once the platform's signed callback has reached the web process and been taken in."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with runtime.db.sessions() as session:
            found = session.scalars(select(Order).where(Order.number == number)).one()
            if found.payment_status is PaymentStatus.PAID:
                return found
        time.sleep(0.1)
    raise AssertionError(f"order {number}: the platform's payment callback never arrived")


def test_a_son_pays_the_cash_part_on_the_checkout_page(
    runtime: Runtime, base_url: str, payment_platform: SandboxServer
) -> None:
    _require_browser()
    from playwright.sync_api import expect

    link_at_centre(runtime)
    spend_credit_down_to(runtime, 1500)  # ¥15 of credit left: two meals (¥30) leave ¥15 to pay
    with son_at_community_services(base_url, "o2o-pay") as (page, shot):
        expect(page.locator("#balance")).to_contain_text("¥15.00")
        page.get_by_role("link", name="助餐送餐", exact=True).click()
        page.locator("#offerings a", has_text="望京颐养居家养老服务中心").click()
        page.locator("input[name=slot]").first.check()
        page.get_by_label("数量").fill("2")
        page.get_by_label("服务地址").fill("望京西园四区7号楼2单元302")
        page.get_by_label("您的手机号（接收各环节短信）").fill("13700001965")
        page.get_by_role("button", name="提交订单").click()
        expect(page.locator("#credit-part")).to_have_text("¥15.00")
        expect(page.locator("#payment")).to_contain_text("支付平台正在准备付款页面")  # CreatePayment not sent yet
        expect(page.get_by_role("link", name=re.compile("去支付"))).to_have_count(0)
        order_url = page.url
        number = order_url.rsplit("/", 1)[-1]
        deliver_for_real(runtime)  # CreatePayment: the platform answers with its checkout page
        page.reload()
        pay = page.get_by_role("link", name="去支付 ¥15.00")
        expect(pay).to_be_visible()
        expect(pay).to_have_attribute("href", re.compile(rf"^{re.escape(payment_platform.checkout_url)}/checkout/PAY-"))
        expect(page.locator("#order-status")).to_have_text("已下单")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
        shot("awaited")
        page.get_by_role("link", name="我的订单").first.click()  # the list says which order awaits payment
        expect(page.locator("#orders li", has_text=number)).to_contain_text("自付 ¥15.00 · 待您支付")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
        shot("my-orders")
        page.goto(order_url)
        checkout = pay.get_attribute("href")
        pay.click()  # to the platform's own page, plain HTTP: no client certificate in a browser
        expect(page.locator("#order-number")).to_have_text(number)
        expect(page.locator("#amount")).to_have_text("¥15.00")
        expect(page.locator("#description")).to_contain_text("助餐送餐")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
        shot("checkout")
        page.get_by_role("button", name="确认支付 ¥15.00").click()
        expect(page.locator("#message")).to_contain_text("支付成功")
        expect(page.locator("#status")).to_have_text("已支付")
        expect(page.get_by_role("button", name=re.compile("确认支付"))).to_have_count(0)
        shot("checkout-paid")
        assert paid(runtime, number).payment_id  # the signed NotifyPayment reached the web process
        deliver_replies(runtime)  # the SMS: offered to 颐养
        page.goto(order_url)  # back to the order
        expect(page.locator("#payment")).to_have_text("已支付 ¥15.00（支付平台已确认）。")
        expect(page.get_by_role("link", name=re.compile("去支付"))).to_have_count(0)
        expect(page.locator("#progress li[aria-current=step]")).to_have_text("派单中")
        expect(page.locator("#timeline")).to_contain_text("已收到付款")
        shot("paid")
        # A second try at the platform's page: paid already, said in words, nothing to press.
        page.goto(str(checkout))
        expect(page.locator("#message")).to_contain_text("这笔支付已不再等待付款：已支付")
    with runtime.db.sessions() as session:
        found = session.scalars(select(Order).where(Order.number == number)).one()
        assert (found.status, found.payment_status, found.cash_fen) == (OrderStatus.DISPATCHED, PaymentStatus.PAID,
                                                                        1500)  # fmt: skip
        assert found.provider is not None and found.provider.code == "YIYANG"
    (callback,) = [c for c in payment_platform.callbacks.to_json() if c["operation"] == "NotifyPayment"]  # type: ignore[union-attr]
    assert (callback["outcome"], callback["values"]["status"]) == ("accepted", "paid")
