"""The simulated payment platform (支付平台): payments of O2O orders, in fen.

CreatePayment opens a payment for an order and answers its ``payUrl``: the platform's checkout
page (收银台, :mod:`adapters.sandbox.checkout`), served on a listener of its own, where the payer
pays or refuses. What the payer does depends on the sandbox's payer mode (:data:`PAYERS`,
``HUIJU_SANDBOX_PAYER`` for ``huiju sandbox``):

- ``at_once`` (the default, which the tests rely on): the simulated payer pays at once and the
  platform reports ``paid`` by a signed callback (NotifyPayment);
- ``checkout`` (what ``huiju demo`` uses): a payment waits for a person to pay (or refuse) on its
  checkout page, as a real payer would; an order not paid in time is closed by Huiju's process.

Either way the control API may say otherwise for one order (:meth:`PaymentDesk.preset`): a preset
``failed`` reports a failed payment, a preset ``hold`` waits until the payer pays (or refuses) on
the checkout page or the control API moves it (``/_sandbox/payments/pay``). Refund gives a
paid payment back: the platform answers ``refunding`` and reports ``refunded`` by callback; a
payment not paid yet is closed at once (nothing to give back). Handlers run under the sandbox's
state lock and change a payment through :meth:`Stores.put_payment`, so that a durable sandbox
keeps it.
"""

from __future__ import annotations

import threading
from typing import Any

from adapters.sandbox.state import Stores
from adapters.soapserver import SoapFault
from huiju.db import utcnow

#: What the simulated payer does with a new payment of an order.
OUTCOMES = frozenset({"paid", "failed", "hold"})
#: The payer modes: what the payer does with a payment nobody preset (see the module docstring).
PAYERS = {"at_once": "paid", "checkout": "hold"}
#: Where a payment is paid, under the checkout listener's address (:mod:`adapters.sandbox.checkout`).
CHECKOUT_PATH = "/checkout/{payment_id}"


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


def create_payment(values: dict[str, Any], stores: Stores, *, checkout_url: str | None) -> dict[str, Any]:
    """A new pending payment; its ``payUrl`` is its page under ``checkout_url``."""
    if not checkout_url:
        raise SoapFault("Server", "the payment platform's checkout page is not being served")
    order_number, amount = _text(values, "orderNumber"), _amount(values)
    description = _text(values, "description")
    _text(values, "payerPhone")
    if amount <= 0:
        raise SoapFault("Client", "a payment needs an amount above zero")
    payment_id = f"PAY-{stores.next_number():08d}"
    now = _stamp()
    stores.put_payment(payment_id, {
        "payment_id": payment_id, "order_number": order_number, "amount_fen": amount, "status": "pending",
        "description": description, "refunded_fen": 0, "created_at": now, "updated_at": now,
    })  # fmt: skip
    pay_url = checkout_url.rstrip("/") + CHECKOUT_PATH.format(payment_id=payment_id)
    return {"paymentId": payment_id, "status": "pending", "payUrl": pay_url, "createdAt": now}


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
    """The payer's and the platform's side after a call: what each payment becomes, and when.

    ``payer`` is the payer mode (:data:`PAYERS`); ``checkout_url`` the address of the checkout
    listener, set once it listens (a payment cannot be created before: it would have no page)."""

    def __init__(self, payer: str = "at_once", checkout_url: str | None = None) -> None:
        if payer not in PAYERS:
            raise ValueError(f"payer must be one of {sorted(PAYERS)}")
        self.lock = threading.Lock()
        self.payer = payer
        self.checkout_url = checkout_url
        self.presets: dict[str, str] = {}  # order number -> "paid" | "failed" | "hold"

    def create_payment(self, values: dict[str, Any], stores: Stores) -> dict[str, Any]:
        return create_payment(values, stores, checkout_url=self.checkout_url)

    def preset(self, order_number: str, outcome: str) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}")
        with self.lock:
            self.presets[order_number] = outcome

    def outcome_for(self, order_number: str) -> str:
        with self.lock:
            return self.presets.pop(order_number, PAYERS[self.payer])

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


HANDLERS = {  # CreatePayment is the desk's (it knows the checkout page's address)
    ("payment", "QueryPayment"): query_payment,
    ("payment", "Refund"): refund,
}
