"""The payment platform (支付平台), the fifth contract: CreatePayment, QueryPayment, Refund over loopback
HTTP through adapters.client.call; amounts in fen; a repeated message id acts once. (Its callbacks,
signed, are tested end to end in tests/integration/test_o2o_end_to_end.py.)"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from adapters.client import call
from adapters.config import AdapterSettings
from adapters.sandbox.payments import PaymentDesk
from adapters.sandbox.server import SandboxServer
from huiju.errors import InputError, PermanentAdapterError

Settings = Callable[..., AdapterSettings]
NEW = {"order_number": "FW2026120600001", "amount_fen": 1500, "description": "助餐送餐", "payer_phone": "13700001965"}


def test_a_payment_is_opened_read_and_closed_when_unpaid(settings_for: Settings, new_id: Callable[[], str]) -> None:
    s = settings_for("payment")
    message_id = new_id()
    opened = call("payment.create_payment", NEW, settings=s, message_id=message_id)
    assert opened["status"] == "pending" and opened["payment_id"].startswith("PAY-") and opened["pay_url"]
    again = call("payment.create_payment", NEW, settings=s, message_id=message_id)  # the same message: no new one
    assert again["payment_id"] == opened["payment_id"]
    read = call("payment.query_payment", {"payment_id": opened["payment_id"]}, settings=s, message_id=new_id())
    assert (read["order_number"], read["amount_fen"], read["status"], read["refunded_fen"]) == (
        NEW["order_number"], 1500, "pending", 0)  # fmt: skip
    closed = call("payment.refund", {"payment_id": opened["payment_id"], "amount_fen": 1500, "reason": "cancelled"},
                  settings=s, message_id=new_id())  # fmt: skip
    assert closed["status"] == "closed"  # nothing was paid: nothing to give back


def test_a_paid_payment_is_refunded_whole(
    settings_for: Settings, new_id: Callable[[], str], sandbox: SandboxServer
) -> None:
    s = settings_for("payment")
    opened = call("payment.create_payment", NEW, settings=s, message_id=new_id())
    with sandbox.state.lock:  # the payer pays (in secure mode the platform then calls Huiju back)
        assert PaymentDesk.settle(sandbox.state.stores, opened["payment_id"], "paid") is not None
    with pytest.raises(PermanentAdapterError, match="whole amount"):
        call("payment.refund", {"payment_id": opened["payment_id"], "amount_fen": 100, "reason": "x"}, settings=s,
             message_id=new_id())  # fmt: skip
    refund = call("payment.refund", {"payment_id": opened["payment_id"], "amount_fen": 1500, "reason": "cancelled"},
                  settings=s, message_id=new_id())  # fmt: skip
    assert refund["status"] == "refunding" and refund["refund_id"]
    with sandbox.state.lock:
        reported = PaymentDesk.settle(sandbox.state.stores, opened["payment_id"], "refunded")
    assert reported is not None and reported["status"] == "refunded" and reported["amountFen"] == "1500"
    read = call("payment.query_payment", {"payment_id": opened["payment_id"]}, settings=s, message_id=new_id())
    assert (read["status"], read["refunded_fen"]) == ("refunded", 1500)


def test_amounts_are_whole_fen_checked_before_sending(settings_for: Settings, new_id: Callable[[], str]) -> None:
    s = settings_for("payment")
    for bad in ({**NEW, "amount_fen": 15.0}, {**NEW, "amount_fen": "1500"}, {**NEW, "amount_fen": -1},
                {**NEW, "amount_fen": True}):  # fmt: skip
        with pytest.raises(InputError, match="amount_fen"):
            call("payment.create_payment", bad, settings=s, message_id=new_id())
    with pytest.raises(PermanentAdapterError, match="above zero"):
        call("payment.create_payment", {**NEW, "amount_fen": 0}, settings=s, message_id=new_id())
    with pytest.raises(PermanentAdapterError, match="unknown payment"):
        call("payment.query_payment", {"payment_id": "PAY-99999999"}, settings=s, message_id=new_id())
