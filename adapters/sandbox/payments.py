"""The simulated payment platform (支付平台): payments of O2O orders, in fen.

CreatePayment opens a payment for an order. The sandbox then plays the payer: unless told otherwise
(:meth:`PaymentDesk.preset`), the payer pays at once and the platform reports ``paid`` by a signed
callback (NotifyPayment); a preset ``failed`` reports a failed payment, a preset ``hold`` waits until
:meth:`PaymentDesk.pay` is called (the payer paying later). Refund gives a paid payment back: the
platform answers ``refunding`` and reports ``refunded`` by callback; a payment not paid yet is
closed at once (nothing to give back). Handlers run under the sandbox's state lock and change a
payment through :meth:`Stores.put_payment`, so that a durable sandbox keeps it.
"""

from __future__ import annotations

import threading
from typing import Any

from adapters.sandbox.state import Stores
from adapters.soapserver import SoapFault
from huiju.db import utcnow

#: What the simulated payer does with a new payment of an order.
OUTCOMES = frozenset({"paid", "failed", "hold"})
PAY_URL = "https://pay.sandbox.example/checkout/{payment_id}"


def _stamp() -> str:
    return utcnow().isoformat(timespec="seconds")


def _amount(values: dict[str, Any]) -> int:
    raw = values.get("amountFen")
    if not isinstance(raw, str) or not raw.strip().isdigit():
        raise SoapFault("Client", "amountFen must be a whole number of fen")
    return int(raw)


def _text(values: dict[str, Any], name: str) -> str:
    value = values.get(name)
    if not isinstance(value, str) or not value.strip():
        raise SoapFault("Client", f"missing element {name}")
    return value.strip()


def create_payment(values: dict[str, Any], stores: Stores) -> dict[str, Any]:
    order_number, amount = _text(values, "orderNumber"), _amount(values)
    _text(values, "description")
    _text(values, "payerPhone")
    if amount <= 0:
        raise SoapFault("Client", "a payment needs an amount above zero")
    payment_id = f"PAY-{stores.next_number():08d}"
    now = _stamp()
    stores.put_payment(payment_id, {
        "payment_id": payment_id, "order_number": order_number, "amount_fen": amount, "status": "pending",
        "refunded_fen": 0, "created_at": now, "updated_at": now,
    })  # fmt: skip
    return {"paymentId": payment_id, "status": "pending", "payUrl": PAY_URL.format(payment_id=payment_id),
            "createdAt": now}  # fmt: skip


def _payment(values: dict[str, Any], stores: Stores) -> dict[str, Any]:
    payment_id = _text(values, "paymentId")
    found = stores.payments.get(payment_id)
    if found is None:
        raise SoapFault("Client", f"unknown payment {payment_id!r}")
    return found


def query_payment(values: dict[str, Any], stores: Stores) -> dict[str, Any]:
    found = _payment(values, stores)
    return {
        "paymentId": found["payment_id"], "orderNumber": found["order_number"], "amountFen": found["amount_fen"],
        "status": found["status"], "refundedFen": found["refunded_fen"], "updatedAt": found["updated_at"],
    }  # fmt: skip


def refund(values: dict[str, Any], stores: Stores) -> dict[str, Any]:
    found = _payment(values, stores)
    amount = _amount(values)
    _text(values, "reason")
    if amount != found["amount_fen"]:
        raise SoapFault("Client", f"only the whole amount ({found['amount_fen']} fen) can be refunded")
    if found["status"] in ("pending", "failed"):
        found["status"], found["updated_at"] = "closed", _stamp()
        stores.put_payment(found["payment_id"], found)
        return {"paymentId": found["payment_id"], "status": "closed"}
    if found["status"] == "paid":
        found["status"], found["updated_at"] = "refunding", _stamp()
        found["refund_id"] = f"RF-{found['payment_id'][4:]}"
        stores.put_payment(found["payment_id"], found)
    # refunding, refunded or closed already: the same answer again
    return {"paymentId": found["payment_id"], "status": found["status"], "refundId": found.get("refund_id")}


class PaymentDesk:
    """The payer's and the platform's side after a call: what each payment becomes, and when."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.presets: dict[str, str] = {}  # order number -> "paid" | "failed" | "hold"

    def preset(self, order_number: str, outcome: str) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}")
        with self.lock:
            self.presets[order_number] = outcome

    def outcome_for(self, order_number: str) -> str:
        with self.lock:
            return self.presets.pop(order_number, "paid")

    @staticmethod
    def settle(stores: Stores, payment_id: str, status: str) -> dict[str, Any] | None:
        """Move a payment on (``paid``/``failed`` from pending, ``refunded`` from refunding); the
        callback's values, or None when the payment is not in a state that allows it."""
        found = stores.payments.get(payment_id)
        allowed = {"paid": "pending", "failed": "pending", "refunded": "refunding"}
        if found is None or found["status"] != allowed.get(status):
            return None
        found["status"], found["updated_at"] = status, _stamp()
        if status == "refunded":
            found["refunded_fen"] = found["amount_fen"]
        stores.put_payment(payment_id, found)
        return {"paymentId": payment_id, "orderNumber": found["order_number"], "status": status,
                "amountFen": str(found["amount_fen"]), "at": found["updated_at"]}  # fmt: skip


HANDLERS = {
    ("payment", "CreatePayment"): create_payment,
    ("payment", "QueryPayment"): query_payment,
    ("payment", "Refund"): refund,
}
