"""The payment platform's checkout page (收银台) in the sandbox: ``payUrl`` points at a listener of its
own, plain HTTP, where a payer pays or refuses; the signed NotifyPayment callback says so, exactly
as ``/_sandbox/payments/pay`` does. A payment that is unknown or already settled gets a page saying
so. (A browser pays on it in tests/portal/test_portal_o2o_browser.py.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from adapters.client import call
from adapters.config import AdapterSettings
from adapters.sandbox.server import SandboxServer
from tests.adapters.conftest import Pki, Receiver
from tests.support.polling import wait_for

ORDER = {"order_number": "FW2026120700001", "amount_fen": 2450, "description": "助餐送餐（午餐）×2",
         "payer_phone": "13700001965"}  # fmt: skip
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def settings(server: SandboxServer) -> AdapterSettings:
    return AdapterSettings.for_sandbox("payment", server.url, connect_timeout=2.0, operation_timeout=5.0)


@pytest.fixture
def waiting(pki: Pki, receiver: Receiver) -> Iterator[SandboxServer]:
    """A secure sandbox whose payer pays on the checkout page, calling back a receiver that accepts."""
    receiver.accepting = True
    with SandboxServer(port=0, trust=pki.trust, signer=pki.sandbox, callback_url=receiver.url,
                       callback_delay=0.0, payer="checkout") as server:  # fmt: skip
        yield server


def opened(server: SandboxServer, pki: Pki, order: dict[str, Any] = ORDER) -> dict[str, Any]:
    keys = {"signer": pki.huiju, "trust": pki.trust}
    return call("payment.create_payment", order, settings=settings(server), message_id=str(uuid.uuid4()), **keys)


def payment_callbacks(server: SandboxServer) -> list[dict[str, Any]]:
    assert server.callbacks is not None
    return [c for c in server.callbacks.to_json() if c["operation"] == "NotifyPayment"]


def test_the_payer_pays_on_the_checkout_page_and_the_platform_calls_back(
    waiting: SandboxServer, pki: Pki, receiver: Receiver
) -> None:
    payment = opened(waiting, pki)
    pay_url = payment["pay_url"]
    assert pay_url == f"{waiting.checkout_url}/checkout/{payment['payment_id']}"
    assert pay_url.startswith("http://127.0.0.1:") and not waiting.url.endswith(pay_url.split("/")[2])
    assert payment_callbacks(waiting) == []  # the payer has not paid yet

    page = requests.get(pay_url, headers=ZH, timeout=5)  # no client certificate: the cashier is public
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    for shown in ("FW2026120700001", "助餐送餐（午餐）×2", "¥24.50", "待支付", "确认支付 ¥24.50", "拒绝支付"):
        assert shown in page.text, shown
    paid = requests.post(pay_url, data={"action": "pay"}, headers=ZH, timeout=5)
    assert paid.status_code == 200 and "已支付" in paid.text and "您可以回到订单页面" in paid.text
    assert paid.history[0].status_code == 303  # after the post, the page: a reload pays nothing twice

    (callback,) = wait_for(lambda: [c for c in payment_callbacks(waiting) if c["outcome"] == "accepted"],
                           "the payment callback")  # fmt: skip
    assert (callback["values"]["paymentId"], callback["values"]["status"], callback["values"]["amountFen"]) == (
        payment["payment_id"], "paid", "2450")  # fmt: skip
    assert receiver.received == [callback["message_id"]]
    (stored,) = waiting.state.stored()["payments"]
    assert stored["status"] == "paid"


def test_a_refused_payment_is_reported_failed(waiting: SandboxServer, pki: Pki) -> None:
    payment = opened(waiting, pki)
    answer = requests.post(payment["pay_url"], data={"action": "refuse"}, headers=ZH, timeout=5)
    assert answer.status_code == 200 and "您拒绝了这笔支付" in answer.text
    (callback,) = wait_for(lambda: payment_callbacks(waiting), "the callback")
    assert callback["values"]["status"] == "failed"


def test_paying_twice_or_an_unknown_payment_gets_a_page_saying_so(waiting: SandboxServer, pki: Pki) -> None:
    payment = opened(waiting, pki)
    assert requests.post(payment["pay_url"], data={"action": "pay"}, timeout=5).status_code == 200
    again = requests.post(payment["pay_url"], data={"action": "pay"}, headers=ZH, timeout=5)
    assert again.status_code == 409
    assert "这笔支付已不再等待付款：已支付。" in again.text and 'id="pay"' not in again.text
    assert len(payment_callbacks(waiting)) == 1  # paid once, told once
    shown = requests.get(payment["pay_url"], headers=ZH, timeout=5)  # the page itself, later: no buttons
    assert shown.status_code == 200 and "已支付" in shown.text and 'id="pay"' not in shown.text

    unknown = f"{waiting.checkout_url}/checkout/PAY-99999999"
    for answer in (requests.get(unknown, headers=ZH, timeout=5),
                   requests.post(unknown, data={"action": "pay"}, headers=ZH, timeout=5)):  # fmt: skip
        assert answer.status_code == 404 and "支付平台没有编号为 PAY-99999999 的支付" in answer.text
    odd = requests.post(payment["pay_url"], data={"action": "steal"}, headers=ZH, timeout=5)
    assert odd.status_code == 400 and "请用页面上的按钮付款或拒绝" in odd.text
    elsewhere = requests.get(f"{waiting.checkout_url}/_sandbox/store", timeout=5)
    assert elsewhere.status_code == 404  # the checkout listener serves the cashier only, never the control API


def test_the_page_speaks_english_to_an_english_browser(waiting: SandboxServer, pki: Pki) -> None:
    payment = opened(waiting, pki)
    page = requests.get(payment["pay_url"], headers={"Accept-Language": "en"}, timeout=5)
    assert "Pay ¥24.50 now" in page.text and "awaiting payment" in page.text and "待支付" not in page.text


def test_the_default_payer_pays_at_once(pki: Pki, receiver: Receiver) -> None:
    receiver.accepting = True
    with SandboxServer(port=0, trust=pki.trust, signer=pki.sandbox, callback_url=receiver.url,
                       callback_delay=0.0) as server:  # fmt: skip
        payment = opened(server, pki)
        (callback,) = wait_for(lambda: payment_callbacks(server), "the payer's callback")
        assert callback["values"]["status"] == "paid"
        page = requests.get(payment["pay_url"], headers=ZH, timeout=5)
        assert page.status_code == 200 and "已支付" in page.text and 'id="pay"' not in page.text


def test_a_sandbox_that_calls_nobody_back_cannot_take_a_payment() -> None:
    with SandboxServer(port=0, payer="checkout") as plain:
        payment = call("payment.create_payment", ORDER, settings=settings(plain), message_id=str(uuid.uuid4()))
        answer = requests.post(payment["pay_url"], data={"action": "pay"}, headers=ZH, timeout=5)
        assert answer.status_code == 409 and "明文模式" in answer.text
        (stored,) = plain.state.stored()["payments"]
        assert stored["status"] == "pending"  # nothing moved that nobody would be told of
