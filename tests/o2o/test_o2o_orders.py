"""An order's whole life in process, every step through the service layer: the son orders meals for
his mother, the first provider lets the offer lapse, the second accepts, serves and is rated; the
credit, the payment, the SMS and who may see what at every turn."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from o2o_support import (
    FIRST,
    OFFICER,
    OPERATOR,
    SECOND,
    SON,
    SON_PHONE,
    answer,
    drain_to,
    link_son,
    mother_id,
    order,
    pay,
    place,
    sms_sent,
    wait_lapse,
)
from o2o_support import (
    outbox as outbox_of,
)
from sqlalchemy import select

import workflows_bpmn
from exchange.models import MessageStatus, OutboxMessage
from huiju.errors import ConflictError, NotFoundError, PermissionDenied
from huiju.models import CreditEntry, FamilyLink, OfferOutcome, Order, OrderOffer, OrderStatus, PaymentStatus, Resident
from huiju.runtime import Runtime
from huiju.services.actors import SYSTEM, load_actor
from huiju.services.materials import Upload, UploadStore
from huiju.services.o2o import credit, dispatch, family, feedback, orders
from huiju.services.o2o.access import get_order, visible_orders
from huiju.services.o2o.policy import update_policy
from tests.support import files
from tests.support.canned import deliver_replies
from workflows_bpmn.definitions import deploy
from workflows_bpmn.expressions import host_functions
from workflows_bpmn.models import ProcessInstance

PNG = files.PNG  # a real picture: uploads are parsed


def balance(runtime: Runtime) -> int:
    with runtime.db.sessions() as session:
        value = credit.balance(session, mother_id(runtime))
        assert credit.ledger_total(session, mother_id(runtime)) == value, "the ledger must add up to the balance"
        return value


def step(runtime: Runtime, username: str, action: str, number: str) -> None:
    with runtime.db.transaction() as session:
        actor = load_actor(session, username)
        if action == "arrive":
            dispatch.arrive(session, runtime.engine, actor, number)
        elif action == "finish":
            store = UploadStore.from_settings(runtime.settings)
            dispatch.finish(session, runtime.engine, store, actor, number, "午餐已送到，老人已用餐",
                            Upload("photo", "送达.png", PNG))  # fmt: skip
        elif action == "confirm":
            orders.confirm_order(session, runtime.engine, actor, number)
    deliver_replies(runtime)


def test_the_son_orders_for_his_mother_and_the_second_provider_serves(runtime: Runtime) -> None:
    link_son(runtime)
    assert balance(runtime) == 60000  # the seed's approved subsidy: ¥600 this month
    drain_to(runtime, 6000)  # other orders, all by credit
    assert balance(runtime) == 6000
    number = place(runtime, "YY-MEAL", quantity=5)  # ¥75: ¥60 by credit, ¥15 to pay
    found = order(runtime, number)
    assert (found.total_fen, found.credit_fen, found.cash_fen) == (7500, 6000, 1500)
    assert found.status is OrderStatus.PLACED and found.payment_status is PaymentStatus.PENDING
    assert balance(runtime) == 0
    deliver_replies(runtime)  # the payment is opened; the orderer and the mother told by SMS
    assert order(runtime, number).payment_id
    pay(runtime, number)
    deliver_replies(runtime)
    found = order(runtime, number)
    assert found.status is OrderStatus.DISPATCHED and found.payment_status is PaymentStatus.PAID
    assert found.provider is not None and found.provider.code == "YIYANG"
    # The first provider does not answer in time: the order goes to the next one on its own.
    wait_lapse(runtime, number)
    found = order(runtime, number)
    assert found.status is OrderStatus.DISPATCHED and found.provider is not None and found.provider.code == "LESHAN"
    with runtime.db.sessions() as session, pytest.raises(NotFoundError):  # no longer theirs to see
        get_order(session, load_actor(session, FIRST), number)
    with pytest.raises(NotFoundError):
        answer(runtime, FIRST, number)
    answer(runtime, SECOND, number)
    assert order(runtime, number).status is OrderStatus.ACCEPTED
    step(runtime, SECOND, "arrive", number)
    assert order(runtime, number).status is OrderStatus.ON_THE_WAY
    step(runtime, SECOND, "finish", number)
    found = order(runtime, number)
    assert found.status is OrderStatus.DONE and found.done_photo_id and found.done_note
    with pytest.raises(PermissionDenied):
        step(runtime, SECOND, "confirm", number)  # the provider cannot confirm its own work
    step(runtime, SON, "confirm", number)
    assert order(runtime, number).status is OrderStatus.CONFIRMED
    with runtime.db.transaction() as session:
        feedback.rate_order(session, load_actor(session, SON), number, 5, "准时，饭菜可口")
    with runtime.db.transaction() as session, pytest.raises(ConflictError):
        feedback.rate_order(session, load_actor(session, SON), number, 1)
    with runtime.db.sessions() as session:
        offers = session.scalars(select(OrderOffer).where(OrderOffer.order_id == found.id).order_by(OrderOffer.id))
        assert [(o.provider.code, o.outcome) for o in offers] == [
            ("YIYANG", OfferOutcome.LAPSED),
            ("LESHAN", OfferOutcome.ACCEPTED),
        ]
        mother_phone = session.scalars(select(Resident.phone).where(Resident.id == mother_id(runtime))).one()
    sent = sms_sent(runtime, number)
    for template in ("ORDER_PLACED", "ORDER_ACCEPTED", "ORDER_ON_THE_WAY", "ORDER_DONE", "ORDER_CONFIRMED"):
        assert (template, SON_PHONE) in sent and (template, mother_phone) in sent, template
    assert [phone for template, phone in sent if template == "ORDER_OFFERED"] == ["13910600001", "13910600002"]
    assert balance(runtime) == 0
    kinds = [e.kind for e in order(runtime, number).events]
    assert kinds[:3] == ["placed", "credit_spent", "payment_requested"]
    assert {"paid", "offered", "lapsed", "accepted", "on_the_way", "done", "confirmed", "rated"} <= set(kinds)


def test_an_order_accepted_while_the_offers_sms_are_unsent_can_be_served_at_once(runtime: Runtime) -> None:
    """The offer round's SMS (to the provider, to the orderer and the parent) are still waiting for the
    SMS platform when the provider accepts: the order is accepted and its service can start at once;
    the offer's texts not sent by then are not sent any more (the acceptance follows by SMS)."""
    link_son(runtime)
    number = place(runtime, "YY-MEAL")  # paid by credit: offered at once, nothing delivered yet
    offered = sms_waiting(runtime, number)
    assert {"ORDER_OFFERED", "ORDER_OFFERED_TO_PROVIDER"} <= offered, offered
    with runtime.db.transaction() as session:
        dispatch.answer_offer(session, runtime.engine, load_actor(session, FIRST), number, accept=True)
    found = order(runtime, number)
    assert found.status is OrderStatus.ACCEPTED and found.accepted_at is not None
    waiting = sms_waiting(runtime, number)
    round_sms = {"ORDER_OFFERED", "ORDER_OFFERED_TO_PROVIDER"}
    assert "ORDER_ACCEPTED" in waiting and not round_sms & waiting, waiting  # the offer's cancelled, unsent
    with runtime.db.transaction() as session, pytest.raises(ConflictError):
        orders.cancel_order(session, runtime.engine, load_actor(session, SON), number, "不需要了")
    step(runtime, FIRST, "arrive", number)  # at once, the SMS platform not heard from
    assert order(runtime, number).status is OrderStatus.ON_THE_WAY
    deliver_replies(runtime)
    assert sms_statuses(runtime, number, round_sms) == {MessageStatus.CANCELLED}
    assert sms_statuses(runtime, number, {"ORDER_ACCEPTED", "ORDER_ON_THE_WAY"}) == {MessageStatus.DELIVERED}


def test_an_order_of_the_earlier_process_version_starts_once_the_offers_sms_are_answered(runtime: Runtime) -> None:
    """Orders placed before the offer's end interrupted its texts run on to the end on that version:
    there the service can start only once the round's SMS are answered, and a provider who tries
    earlier is told so."""
    folder = Path(workflows_bpmn.__file__).parent / "processes"
    sources = {name: (folder / name).read_text(encoding="utf-8")
               for name in ("o2o_order.bpmn", "o2o_offer_answered.dmn", "o2o_offer_lapsed.dmn")}  # fmt: skip
    shipped = sources["o2o_order.bpmn"]
    sources["o2o_order.bpmn"] = re.sub(r"\s*<bpmn:terminateEventDefinition id=\"def_end_offer_\w+\" />", "", shipped)
    assert sources["o2o_order.bpmn"] != shipped
    with runtime.db.transaction() as session:
        deploy(session, sources, host_functions(), deployed_by="admin", cache=runtime.engine.cache)
    link_son(runtime)
    number = place(runtime, "YY-MEAL")
    with runtime.db.transaction() as session:
        dispatch.answer_offer(session, runtime.engine, load_actor(session, FIRST), number, accept=True)
    assert order(runtime, number).status is OrderStatus.ACCEPTED
    with runtime.db.transaction() as session, pytest.raises(ConflictError, match="accepted a moment ago"):
        dispatch.arrive(session, runtime.engine, load_actor(session, FIRST), number)  # too early: said so
    deliver_replies(runtime)
    assert sms_statuses(runtime, number, {"ORDER_OFFERED", "ORDER_OFFERED_TO_PROVIDER"}) == {MessageStatus.DELIVERED}
    step(runtime, FIRST, "arrive", number)  # the round has ended
    assert order(runtime, number).status is OrderStatus.ON_THE_WAY


def sms_statuses(runtime: Runtime, number: str, templates: set[str]) -> set[MessageStatus]:
    """What became of the order's SMS of these templates."""
    with runtime.db.sessions() as session:
        rows = session.scalars(
            select(OutboxMessage).join(Order, Order.process_instance_id == OutboxMessage.process_instance_id)
            .where(Order.number == number, OutboxMessage.operation == "sms.send_sms")
        )  # fmt: skip
        return {m.status for m in rows if m.params["template"] in templates}


def sms_waiting(runtime: Runtime, number: str) -> set[str]:
    """The templates of the order's SMS waiting for the SMS platform."""
    with runtime.db.sessions() as session:
        rows = session.scalars(
            select(OutboxMessage).join(Order, Order.process_instance_id == OutboxMessage.process_instance_id)
            .where(Order.number == number, OutboxMessage.operation == "sms.send_sms",
                   OutboxMessage.status == MessageStatus.PENDING)
        )  # fmt: skip
        return {str(m.params["template"]) for m in rows}


def test_cancelling_before_a_provider_accepts_returns_credit_and_payment(runtime: Runtime) -> None:
    link_son(runtime)
    drain_to(runtime, 6000)
    number = place(runtime, "YY-MEAL", quantity=5)
    deliver_replies(runtime)
    with runtime.db.transaction() as session:
        orders.cancel_order(session, runtime.engine, load_actor(session, SON), number, "老人住院了")
    deliver_replies(runtime)
    found = order(runtime, number)
    assert found.status is OrderStatus.CANCELLED
    assert balance(runtime) == 6000  # the ¥60 spent came back
    assert found.payment_status is PaymentStatus.REFUNDING  # the payment platform gives the ¥15 back
    with runtime.db.sessions() as session:
        entries = session.scalars(select(CreditEntry).where(CreditEntry.order_id == found.id)).all()
        assert sorted((e.kind.value, e.amount_fen) for e in entries) == [("return", 6000), ("spend", -6000)]
    with runtime.db.transaction() as session, pytest.raises(ConflictError):
        orders.cancel_order(session, runtime.engine, load_actor(session, SON), number)
    assert ("ORDER_CANCELLED", SON_PHONE) in sms_sent(runtime, number)


def test_nobody_accepts_then_the_operator_dispatches(runtime: Runtime) -> None:
    link_son(runtime)
    number = place(runtime, "YY-MEAL")  # all by credit: offered at once
    deliver_replies(runtime)
    answer(runtime, FIRST, number, accept=False, reason="今日送餐员不足")
    answer(runtime, SECOND, number, accept=False, reason="超出配送能力")
    found = order(runtime, number)
    assert found.status is OrderStatus.UNASSIGNED and found.provider_id is None
    with runtime.db.transaction() as session:
        dispatch.assign(session, runtime.engine, load_actor(session, OPERATOR), number, "LESHAN")
    deliver_replies(runtime)
    found = order(runtime, number)
    assert found.status is OrderStatus.ACCEPTED and found.provider is not None and found.provider.code == "LESHAN"


def test_declining_needs_a_reason_and_a_family_member_without_a_link_orders_nothing(runtime: Runtime) -> None:
    with pytest.raises(PermissionDenied):
        place(runtime)  # not linked yet
    link_son(runtime)
    number = place(runtime)
    deliver_replies(runtime)
    with pytest.raises(Exception, match="say why"):
        answer(runtime, FIRST, number, accept=False)
    with runtime.db.sessions() as session, pytest.raises(NotFoundError):
        get_order(session, load_actor(session, "provider-wuye"), number)  # not offered to them


def test_once_the_link_ends_the_parents_orders_are_out_of_the_family_members_reach(runtime: Runtime) -> None:
    """Ending a link (here by the parent's community officer) ends the family member's sight of the
    parent's orders, those they placed themselves included; the parent still has them."""
    link_son(runtime)
    number = place(runtime)
    deliver_replies(runtime)
    with runtime.db.transaction() as session:
        [link_id] = session.scalars(select(FamilyLink.id)).all()
        family.revoke_link(session, load_actor(session, OFFICER), link_id)
    with runtime.db.sessions() as session:
        with pytest.raises(NotFoundError):
            get_order(session, load_actor(session, SON), number)
        son = load_actor(session, SON)
        assert [o.number for o in session.scalars(visible_orders(session, son))] == []
        assert get_order(session, load_actor(session, "resident-zhang"), number).number == number
    with runtime.db.transaction() as session, pytest.raises(NotFoundError):
        orders.cancel_order(session, runtime.engine, load_actor(session, SON), number)
    assert order(runtime, number).status is not OrderStatus.CANCELLED


def test_an_unpaid_order_is_cancelled_and_its_credit_returned(runtime: Runtime) -> None:
    link_son(runtime)
    drain_to(runtime, 6000)
    number = place(runtime, "YY-MEAL", quantity=5)
    deliver_replies(runtime)
    pay(runtime, number, "failed")
    deliver_replies(runtime)
    found = order(runtime, number)
    assert found.status is OrderStatus.CANCELLED and found.payment_status is PaymentStatus.FAILED
    assert balance(runtime) == 6000
    # The timeline says why in words (its kind); no code of the process rides along as a reason.
    cancelled = [e for e in found.events if e.kind == "payment_failed_cancelled"]
    assert len(cancelled) == 1 and cancelled[0].detail == "" and found.cancel_reason == ""


def test_cancelling_while_offered_withdraws_the_offer(runtime: Runtime) -> None:
    link_son(runtime)
    number = place(runtime, "YY-MEAL", quantity=2)  # ¥30, all by credit: offered at once
    deliver_replies(runtime)
    assert order(runtime, number).status is OrderStatus.DISPATCHED and balance(runtime) == 57000
    with runtime.db.transaction() as session:
        orders.cancel_order(session, runtime.engine, load_actor(session, SON), number, "不需要了")
    deliver_replies(runtime)
    found = order(runtime, number)
    assert found.status is OrderStatus.CANCELLED and found.payment_status is PaymentStatus.NONE
    assert balance(runtime) == 60000
    with runtime.db.sessions() as session:
        offers = session.scalars(select(OrderOffer).where(OrderOffer.order_id == found.id)).all()
        assert [o.outcome for o in offers] == [OfferOutcome.WITHDRAWN]
        instance = session.get(ProcessInstance, found.process_instance_id)
        assert instance is not None and instance.outcome == "cancelled"
    assert not outbox_of(runtime, "payment.refund")  # nothing was paid: nothing to refund
    with pytest.raises(ConflictError):  # the provider it was offered to sees it cancelled, and cannot take it
        answer(runtime, FIRST, number)


def wake(runtime: Runtime, number: str, until: object, seconds: float = 20.0) -> None:
    """What the worker's sweep does: fire the order's due timers, until ``until(order)`` holds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        instance_id = order(runtime, number).process_instance_id
        assert instance_id is not None
        with runtime.db.transaction() as session:
            runtime.engine.wake_timers(session, instance_id)
        deliver_replies(runtime)
        if until(order(runtime, number)):  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"order {number} did not get there in {seconds} s")


def test_an_order_not_paid_in_time_is_cancelled_and_one_not_confirmed_is_confirmed(runtime: Runtime) -> None:
    link_son(runtime)
    with runtime.db.transaction() as session:
        update_policy(session, SYSTEM, {"payment_wait": "PT1S", "confirm_within": "PT1S"})
    drain_to(runtime, 6000)
    unpaid = place(runtime, "YY-MEAL", quantity=5)  # ¥15 to pay, never paid
    wake(runtime, unpaid, lambda o: o.status is OrderStatus.CANCELLED)
    assert [e.kind for e in order(runtime, unpaid).events][-2:] == ["unpaid", "credit_returned"]
    assert balance(runtime) == 6000
    number = place(runtime, "YY-MEAL", quantity=2)  # all by credit
    deliver_replies(runtime)
    answer(runtime, FIRST, number)
    step(runtime, FIRST, "arrive", number)
    step(runtime, FIRST, "finish", number)
    wake(runtime, number, lambda o: o.status is OrderStatus.CONFIRMED)  # nobody confirmed: the timer did
    assert "auto_confirmed" in [e.kind for e in order(runtime, number).events]


def test_a_repair_by_the_property_company_is_paid_in_full_and_leaves_the_credit(runtime: Runtime) -> None:
    """The credit pays home care, not repairs: the mother orders a repair herself and pays it all."""
    number = place(runtime, "WY-REPAIR", username="resident-zhang")
    found = order(runtime, number)
    assert (found.total_fen, found.credit_fen, found.cash_fen) == (5000, 0, 5000)
    assert balance(runtime) == 60000
    deliver_replies(runtime)
    pay(runtime, number)
    deliver_replies(runtime)
    found = order(runtime, number)
    assert found.status is OrderStatus.DISPATCHED and found.provider is not None
    assert found.provider.code == "WJWUYE"  # 望京物业, the property company
