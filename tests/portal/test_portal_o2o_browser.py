"""Community services in a real browser on a phone (360 × 740): a son orders meals for his mother, follows
the order, confirms it was done and rates it. Screenshots under ``test-artifacts/portal/``."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select
from test_portal_browser import ARTIFACTS, VIEWPORTS, _require_browser, launch
from test_portal_o2o import SON, link_at_centre

from huiju.app.seed import DEMO_PASSWORD
from huiju.models import Order, OrderRating, OrderStatus
from huiju.runtime import Runtime
from huiju.services.actors import load_actor
from huiju.services.materials import UploadStore
from huiju.services.o2o import dispatch
from tests.support.canned import deliver_replies
from tests.support.servers import serving


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    with serving(app) as url:
        yield url


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
    from playwright.sync_api import expect, sync_playwright

    link_at_centre(runtime)
    width, height = VIEWPORTS["phone"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN").new_page()  # type: ignore[attr-defined]
            shot = lambda name: page.screenshot(path=str(ARTIFACTS / f"o2o-{name}-phone.png"), full_page=True)  # noqa: E731
            page.goto(f"{base_url}/portal/login")
            page.get_by_label("用户名或手机号").fill(SON)
            page.get_by_label("密码").fill(DEMO_PASSWORD)
            page.get_by_role("button", name="登录").click()
            page.get_by_role("navigation").get_by_role("link", name="社区服务").click()
            shot("home")
            expect(page.get_by_label("为谁下单")).to_contain_text("张秀英")
            expect(page.locator("#balance")).to_contain_text("¥600.00")
            page.get_by_role("link", name="助餐送餐", exact=True).click()
            expect(page.locator("#offerings li")).to_have_count(2)  # 颐养 and 乐膳 both deliver here
            expect(page.locator("#offerings li").first.locator(".area")).to_have_text(
                "服务范围：望京西园社区等 2 个社区"
            )
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            shot("services")
            page.locator("#offerings a", has_text="望京颐养居家养老服务中心").click()
            expect(page.get_by_role("heading", name="助餐送餐（午餐）")).to_be_visible()
            expect(page.locator("#service-area")).to_contain_text("望京西园社区")
            page.locator("input[name=slot]").first.check()
            page.get_by_label("数量").fill("2")
            page.get_by_label("服务地址").fill("望京西园四区7号楼2单元302")
            page.get_by_label("您的手机号（接收各环节短信）").fill("13700001965")
            page.get_by_label("给服务商的留言（选填）").fill("少盐，软一点")
            assert page.evaluate("document.documentElement.scrollWidth") <= width
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
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            shot("rated")
            # The credit statement and the family links, on the same phone.
            page.get_by_role("navigation").get_by_role("link", name="社区服务").click()
            page.locator("#balance").get_by_role("link", name="明细").click()
            expect(page.locator("#credit-balance")).to_contain_text("¥570.00")  # ¥600.00 less the ¥30.00 spent
            expect(page.locator("#statement tbody tr")).to_have_count(2)  # the top-up, the order
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            shot("credit")
            page.get_by_role("navigation").get_by_role("link", name="社区服务").click()
            page.locator("#family-link").click()  # another parent can be linked from the services page
            expect(page.locator("#links")).to_contain_text("张秀英")
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            shot("family")
        finally:
            browser.close()  # type: ignore[attr-defined]
    with runtime.db.sessions() as session:
        found = session.scalars(select(Order).where(Order.number == number)).one()
        assert found.status is OrderStatus.CONFIRMED and found.credit_fen == 3000
        rating = session.scalars(select(OrderRating)).one()
        assert (rating.level, rating.comment) == (5, "送得准时，饭菜可口")
