"""Helpers of the community-services tests: the demo family linked, orders placed and moved on the
way residents, providers, the operator and the payment platform do, through the service layer."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import select

from exchange.models import OutboxMessage
from huiju.models import Order, Resident
from huiju.runtime import Runtime
from huiju.services.actors import load_actor
from huiju.services.o2o import credit, dispatch, family, orders
from huiju.services.o2o.payments import PaymentReport, payment_reported
from tests.support.canned import deliver_replies
from tests.support.seeded import bookable_slot
from workflows_bpmn.models import ProcessInstance

MOTHER_ID = "110105193801012340"  # 张秀英, 望京西园社区, ¥600 of credit a month in the seed
SON = "family-zhang"
OFFICER = "officer-chaoyang-01"
OPERATOR = "operator"
FIRST, SECOND = "provider-yiyang", "provider-leshan"  # both deliver meals to 望京西园社区 at ¥15
SON_PHONE = "13700001965"


def link_son(runtime: Runtime) -> None:
    """张秀英's consent recorded at the service centre: her son may order for her."""
    with runtime.db.transaction() as session:
        family.record_at_centre(session, load_actor(session, OFFICER), username=SON, parent_id_number=MOTHER_ID,
                                parent_name="张秀英", relation="child")  # fmt: skip


def mother_id(runtime: Runtime) -> int:
    with runtime.db.sessions() as session:
        return int(session.scalars(select(Resident.id).where(Resident.id_number == MOTHER_ID)).one())


def free_slot(runtime: Runtime, service_code: str, quantity: int = 1) -> int:
    with runtime.db.sessions() as session:
        return bookable_slot(session, service_code, quantity)


def place(runtime: Runtime, service_code: str = "YY-MEAL", quantity: int = 1, username: str = SON) -> str:
    placement = orders.Placement(service_code=service_code, beneficiary_id=mother_id(runtime),
                                 slot_id=free_slot(runtime, service_code, quantity), address="望京西园四区7号楼2单元302",
                                 quantity=quantity, note="少盐", contact_phone=SON_PHONE)  # fmt: skip
    with runtime.db.transaction() as session:
        return orders.place_order(session, runtime.engine, load_actor(session, username), placement).number


def drain_to(runtime: Runtime, keep_fen: int) -> None:
    """Spend the mother's credit on other meal orders until ``keep_fen`` is left (¥15 a meal)."""
    with runtime.db.sessions() as session:
        left = credit.balance(session, mother_id(runtime))
    while left > keep_fen:
        meals = min(10, (left - keep_fen) // 1500)
        assert meals > 0, "the credit cannot be brought to that amount with meals of ¥15"
        place(runtime, "LS-MEAL", quantity=meals)
        left -= meals * 1500
    deliver_replies(runtime)


def order(runtime: Runtime, number: str) -> Order:
    with runtime.db.sessions() as session:
        found = session.scalars(select(Order).where(Order.number == number)).one()
        _ = found.events, found.provider, found.service
        return found


def pay(runtime: Runtime, number: str, status: str = "paid") -> None:
    """The payment platform's signed callback, as the inbound endpoint hands it over once verified."""
    found = order(runtime, number)
    assert found.payment_id, f"order {number} has no payment yet"
    report = PaymentReport(found.payment_id, number, status, found.cash_fen, datetime.now().astimezone().isoformat())
    with runtime.db.transaction() as session:
        payment_reported(session, runtime.engine, report, client="payment")


def answer(runtime: Runtime, username: str, number: str, accept: bool = True, reason: str = "") -> None:
    with runtime.db.transaction() as session:
        dispatch.answer_offer(session, runtime.engine, load_actor(session, username), number, accept=accept,
                              reason=reason)  # fmt: skip
    deliver_replies(runtime)


def wait_lapse(runtime: Runtime, number: str, seconds: float = 20.0) -> None:
    """Wake the order's timers (what the worker's sweep does) until its current offer has lapsed."""
    before = order(runtime, number).provider_id
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with runtime.db.transaction() as session:
            instance_id = order(runtime, number).process_instance_id
            assert instance_id is not None
            runtime.engine.wake_timers(session, instance_id)
        deliver_replies(runtime)
        found = order(runtime, number)
        if found.provider_id != before:
            return
        time.sleep(0.1)
    raise AssertionError(f"the offer of {number} did not lapse in {seconds} s")


def sms_sent(runtime: Runtime, number: str) -> list[tuple[str, str]]:
    """(template, phone) of every SMS the order's process asked for, in order."""
    with runtime.db.sessions() as session:
        instance = session.scalars(select(ProcessInstance.id).join(Order, Order.process_instance_id == ProcessInstance.id)
                                   .where(Order.number == number)).one()  # fmt: skip
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.process_instance_id == instance,
                                        OutboxMessage.operation == "sms.send_sms").order_by(OutboxMessage.id)
        ).all()  # fmt: skip
        return [(str(m.params["template"]), str(m.params["phone"])) for m in rows]


def outbox(runtime: Runtime, operation: str) -> list[dict[str, Any]]:
    with runtime.db.sessions() as session:
        return [
            dict(m.params) for m in session.scalars(select(OutboxMessage).where(OutboxMessage.operation == operation))
        ]
