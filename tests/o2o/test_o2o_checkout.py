"""The payment platform's checkout page (``payUrl``) kept with an order, through the service layer: the
orderer and the parent are offered it while the payment is awaited, the operator never; once paid,
failed or not paid in time the page says so and offers it no more; an address a browser must not
follow is not kept."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

import pytest
from flask import Flask
from o2o_support import OPERATOR, SON, drain_to, link_son, order, pay, place

from exchange.models import OutboxMessage
from huiju.app.seed import DEMO_PASSWORD
from huiju.app.web import create_app
from huiju.models import OrderStatus, PaymentStatus
from huiju.runtime import Runtime
from huiju.services.actors import SYSTEM, load_actor
from huiju.services.o2o import pages
from huiju.services.o2o.payments import PAY_URL_MAX, checkout_url
from huiju.services.o2o.policy import update_policy
from tests.support.canned import canned_reply, deliver_replies
from tests.support.portal_forms import log_in

MOTHER = "resident-zhang"  # 张秀英's own account


def page_of(runtime: Runtime, username: str, number: str) -> pages.OrderPage:
    with runtime.db.sessions() as session:
        return pages.order_page(session, load_actor(session, username), number)


def checkout_at(address: str) -> Any:
    """The platform's replies, with ``address`` as the checkout page of every new payment."""

    def reply(message: OutboxMessage) -> dict[str, Any]:
        answer = canned_reply(message)
        return {**answer, "pay_url": address} if message.operation == "payment.create_payment" else answer

    return reply


def never_paid(message: OutboxMessage) -> dict[str, Any]:
    """The platform's replies when the payer never paid: closing the payment closes it (nothing to refund)."""
    if message.operation == "payment.refund":
        return {"payment_id": message.params["payment_id"], "status": "closed", "refund_id": None}
    return canned_reply(message)


def test_the_checkout_page_is_kept_and_offered_while_the_payment_is_awaited(runtime: Runtime) -> None:
    link_son(runtime)
    drain_to(runtime, 6000)
    number = place(runtime, "YY-MEAL", quantity=5)  # ¥75: ¥60 by credit, ¥15 to pay
    before = page_of(runtime, SON, number)
    assert (before.payment, before.pay_url) == ("preparing", None)  # CreatePayment not answered yet
    address = "http://127.0.0.1:8703/checkout/PAY-00000042"
    deliver_replies(runtime, checkout_at(address))
    found = order(runtime, number)
    assert found.pay_url == address and found.payment_id and found.payment_status is PaymentStatus.PENDING
    for username in (SON, MOTHER):  # the orderer, and the parent with an account of her own
        view = page_of(runtime, username, number)
        assert (view.payment, view.pay_url) == ("awaited", address), username
    operator = page_of(runtime, OPERATOR, number)
    assert (operator.payment, operator.pay_url) == ("awaited", None)  # the console says it is awaited, no more

    pay(runtime, number)
    deliver_replies(runtime)
    paid = page_of(runtime, SON, number)
    assert (paid.payment, paid.pay_url) == ("paid", None) and paid.order.status is OrderStatus.DISPATCHED
    assert order(runtime, number).pay_url == address  # kept with the order, no longer offered


def test_a_failed_payment_and_one_not_paid_in_time_are_said_without_a_link(runtime: Runtime) -> None:
    link_son(runtime)
    with runtime.db.transaction() as session:
        update_policy(session, SYSTEM, {"payment_wait": "PT1S"})
    drain_to(runtime, 9000)
    failed = place(runtime, "YY-MEAL", quantity=7)  # ¥105: ¥90 by credit, ¥15 to pay
    deliver_replies(runtime)
    pay(runtime, failed, "failed")
    deliver_replies(runtime)
    assert (page_of(runtime, SON, failed).payment, page_of(runtime, SON, failed).pay_url) == ("failed", None)

    unpaid = place(runtime, "YY-MEAL", quantity=7)  # the credit came back: ¥15 to pay again, never paid
    deliver_replies(runtime)
    assert page_of(runtime, SON, unpaid).pay_url
    deadline = time.monotonic() + 20
    while order(runtime, unpaid).status is not OrderStatus.CANCELLED:  # what the worker's sweep does
        assert time.monotonic() < deadline, "the payment's time limit never fired"
        with runtime.db.transaction() as session:
            runtime.engine.wake_timers(session, order(runtime, unpaid).process_instance_id or 0)
        deliver_replies(runtime, never_paid)
        time.sleep(0.1)
    view = page_of(runtime, SON, unpaid)
    assert (view.payment, view.pay_url) == ("unpaid", None)
    assert view.order.payment_status is PaymentStatus.CLOSED


@pytest.mark.parametrize(
    "address",
    [
        "javascript:alert(1)",
        "/checkout/PAY-1",
        "ftp://pay.example/PAY-1",
        "https://",
        "https://pay.example/" + "x" * PAY_URL_MAX,
        "https://pay.example/a b",
        "data:text/html,hi",
    ],  # fmt: skip
)
def test_a_checkout_address_a_browser_must_not_follow_is_refused(address: str) -> None:
    assert checkout_url(address) is None


def test_a_plain_checkout_address_is_kept_as_given() -> None:
    assert checkout_url(" https://cashier.pay.example/c/PAY-1?t=abc ") == "https://cashier.pay.example/c/PAY-1?t=abc"
    assert checkout_url(None) is None and checkout_url("") is None


def test_an_order_keeps_no_address_a_browser_must_not_follow(runtime: Runtime) -> None:
    link_son(runtime)
    drain_to(runtime, 6000)
    number = place(runtime, "YY-MEAL", quantity=5)
    deliver_replies(runtime, checkout_at("javascript:alert(document.cookie)"))
    found = order(runtime, number)
    assert found.payment_id and found.pay_url is None  # the payment itself is recorded: its callback counts
    view = page_of(runtime, SON, number)
    assert (view.payment, view.pay_url) == ("preparing", None)


def test_the_api_and_my_orders_give_the_payer_the_payment_state(runtime: Runtime) -> None:
    """An app reads what the order's page says: the payment in one word and, for the orderer and the
    parent while it is awaited, the checkout page; "My orders" says it in words."""
    link_son(runtime)
    drain_to(runtime, 6000)
    number = place(runtime, "YY-MEAL", quantity=5)  # ¥75: ¥60 by credit, ¥15 to pay
    app = create_app(runtime, {"TESTING": True})
    assert api_order(app, SON, number)[1:] == ("preparing", None)
    address = "http://127.0.0.1:8703/checkout/PAY-00000042"
    deliver_replies(runtime, checkout_at(address))
    for username in (SON, MOTHER):
        assert api_order(app, username, number)[1:] == ("awaited", address), username
    assert api_order(app, OPERATOR, number)[1:] == ("awaited", None)  # told it is awaited, not where to pay

    son = app.test_client()
    assert log_in(son, SON).status_code == 302
    listed = son.get("/portal/orders", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert re.search(rf"{number}.*?自付 ¥15.00 · 待您支付", listed, re.S), listed

    pay(runtime, number)
    deliver_replies(runtime)
    assert api_order(app, SON, number)[1:] == ("paid", None)
    listed = son.get("/portal/orders").get_data(as_text=True)
    assert re.search(rf"{number}.*?自付 ¥15.00 · 已支付", listed, re.S), listed


def api_order(app: Flask, username: str, number: str) -> tuple[str, str | None, str | None]:
    """The order as the JSON API gives it to ``username``: (status, payment, pay_url)."""
    token = base64.b64encode(f"{username}:{DEMO_PASSWORD}".encode()).decode()
    reply = app.test_client().get(f"/api/v1/o2o/orders/{number}", headers={"Authorization": f"Basic {token}"})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    body = reply.get_json()
    return body["status"], body["payment"], body["pay_url"]
