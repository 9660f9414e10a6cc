"""What the payment platform (支付平台) tells Huiju by its signed callbacks: a payment paid, failed or
refunded. The exchange layer has verified the call (signature, certificate, message id) before it
reaches :func:`payment_reported`; here it is checked against the order it names.

A ``paid`` or ``failed`` report resumes the order's process waiting for it (the BPMN message
``payment_result``, correlated by order number). One that comes before Huiju has recorded the
payment's id (the CreatePayment reply not yet taken in) is refused, so that the platform sends it
again later; one about an order cancelled meanwhile is recorded and changes nothing else.

The CreatePayment reply also names the platform's checkout page (收银台, ``payUrl``) where the
orderer pays; :func:`checkout_url` decides whether it may become a link on the order's page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju.errors import InputError, NotFoundError
from huiju.i18n import _
from huiju.models import Order, OrderStatus, PaymentStatus
from huiju.services.o2o.money import yuan
from huiju.services.o2o.orders import CORRELATION, event
from workflows_bpmn.runner import Engine

PAYMENT_MESSAGE = "payment_result"
STATUSES = ("paid", "failed", "refunded")
#: The longest checkout address kept with an order (``Order.pay_url``).
PAY_URL_MAX = 500

log = logging.getLogger(__name__)


def checkout_url(value: Any) -> str | None:
    """The platform's checkout address from a CreatePayment reply, if a resident's browser may follow it:
    an absolute http(s) URL with a host, no longer than :data:`PAY_URL_MAX`; None otherwise (a
    ``javascript:`` address must never become a link), logged."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    parts = urlsplit(text)
    if len(text) <= PAY_URL_MAX and parts.scheme in ("http", "https") and parts.hostname and " " not in text:
        return text
    log.warning("payment platform's checkout address refused: %.80r", text)
    return None


@dataclass(frozen=True)
class PaymentReport:
    payment_id: str
    order_number: str
    status: str
    amount_fen: int
    at: str


def payment_reported(session: Session, engine: Engine, report: PaymentReport, *, client: str) -> None:
    if report.status not in STATUSES:
        raise InputError(_("unknown payment status {status}", status=report.status))
    order = session.scalars(select(Order).where(Order.number == report.order_number)).one_or_none()
    if order is None:
        raise NotFoundError(_("no order {number}", number=report.order_number))
    if order.payment_id is None:
        raise NotFoundError(_("order {number} has no payment recorded yet", number=order.number))
    if order.payment_id != report.payment_id:
        raise InputError(_("payment {payment} is not the payment of order {number}", payment=report.payment_id,
                           number=order.number))  # fmt: skip
    if report.amount_fen != order.cash_fen:
        raise InputError(_("payment {payment} reports {amount} fen; order {number} asked for {asked}",
                           payment=report.payment_id, amount=report.amount_fen, number=order.number,
                           asked=order.cash_fen))  # fmt: skip
    if report.status == "refunded":
        if order.payment_status is not PaymentStatus.REFUNDED:
            order.payment_status = PaymentStatus.REFUNDED
            event(order, "refunded", client, yuan(order.cash_fen), payment_id=report.payment_id)
        return
    new = PaymentStatus.PAID if report.status == "paid" else PaymentStatus.FAILED
    if order.payment_status is new:
        return  # told twice (two callbacks of one payment): once is enough
    if order.status is OrderStatus.PLACED:
        payload = {"order_number": order.number, "payment_id": report.payment_id, "status": report.status,
                   "amount_fen": report.amount_fen, "at": report.at}  # fmt: skip
        engine.deliver_message(session, PAYMENT_MESSAGE, {CORRELATION: order.number}, payload, actor=client)
    if order.payment_status in (PaymentStatus.PENDING, PaymentStatus.FAILED, PaymentStatus.NONE):
        order.payment_status = new
    event(order, "paid" if new is PaymentStatus.PAID else "payment_failed", client, yuan(order.cash_fen),
          payment_id=report.payment_id)  # fmt: skip
