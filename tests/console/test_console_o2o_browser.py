"""The provider's page in Debian's chromium: 颐养's dispatcher accepts an order offered to them, marks it on
the way and done with a note and a photo; the platform operator sees it and the providers' standing.
Screenshots under ``test-artifacts/console/``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from console_support import PNG, place_order
from flask import Flask
from sqlalchemy import select
from test_console_browser import console

from huiju.models import Order, OrderStatus
from huiju.runtime import Runtime
from tests.support.canned import deliver_replies
from tests.support.servers import serving


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    with serving(app) as url:
        yield url


def status(runtime: Runtime, number: str) -> OrderStatus:
    with runtime.db.sessions() as session:
        return session.scalars(select(Order.status).where(Order.number == number)).one()


@pytest.mark.parametrize("viewport", [(1366, 768), (768, 1024), (390, 844)], ids=["office-screen", "tablet", "phone"])
def test_the_provider_accepts_and_completes_an_order(
    runtime: Runtime, base_url: str, viewport: tuple[int, int], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    number = place_order(runtime)  # offered to 颐养
    photo = tmp_path / "送达.png"
    photo.write_bytes(PNG)
    name = "office" if viewport[0] >= 1024 else "tablet" if viewport[0] >= 768 else "phone"
    with console(base_url, viewport) as c:
        page = c.page
        c.sign_in("provider-yiyang")
        offered = page.locator(f"#offered tr[data-order='{number}']")
        expect(offered).to_contain_text("助餐送餐（午餐）")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport[0]  # a provider in the field
        c.shot(f"o2o-provider-offered-{name}.png")
        offered.get_by_role("button", name="接单").click()
        expect(page.get_by_text(f"已接单 {number}")).to_be_visible()
        deliver_replies(runtime)  # the SMS of the acceptance: the visit step is ready
        assert status(runtime, number) is OrderStatus.ACCEPTED
        page.reload()
        taken = page.locator(f"#taken tr[data-order='{number}']")
        expect(taken.locator(".order-status")).to_have_text("服务商已接单")
        taken.get_by_role("button", name="出发上门").click()
        deliver_replies(runtime)
        page.reload()
        expect(taken.locator(".order-status")).to_have_text("服务人员已上门")
        taken.locator("textarea[name=note]").fill("午餐已送到，老人已用餐")
        taken.locator("input[name=photo]").set_input_files(str(photo))
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport[0]
        c.shot(f"o2o-provider-serving-{name}.png")
        taken.get_by_role("button", name="完成").click()
        expect(page.get_by_text("等待下单人确认")).to_be_visible()
        expect(taken.locator(".order-status")).to_have_text("服务完成")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport[0]
        c.shot(f"o2o-provider-done-{name}.png")
        c.sign_out()
        c.sign_in("operator")
        page.get_by_role("link", name="全部").click()
        expect(page.locator(f"#watched tr[data-order='{number}'] .order-status")).to_have_text("服务完成")
        page.goto(f"{base_url}/console/operator/providers")
        expect(page.locator("#providers tr[data-provider='YIYANG']")).to_contain_text("望京颐养居家养老服务中心")
        c.shot(f"o2o-operator-providers-{name}.png")
    with runtime.db.sessions() as session:
        order = session.scalars(select(Order).where(Order.number == number)).one()
        assert order.status is OrderStatus.DONE and order.done_photo_id is not None
        assert order.done_note == "午餐已送到，老人已用餐"
