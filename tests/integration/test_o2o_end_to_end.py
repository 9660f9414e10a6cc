"""Community services end to end, over the real sandbox and a real worker process: an elderly resident's
subsidy is approved and grants service credit; her son, registered in another city, links to her with
the code sent to her phone and orders meal delivery for her; the payment platform's signed callback
settles what the credit does not cover; the first provider lets the offer lapse, the second accepts,
serves, and is confirmed and rated; the month's settlement is published once. The credit balance is
checked at every step."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from exchange.direct import call_now
from exchange.models import MessageStatus, OutboxMessage
from huiju.app.seed import DEMO_APPLICANT, DEMO_PASSWORD
from huiju.calendar import CHINA
from huiju.models import (
    CaseStatus,
    Entitlement,
    Order,
    OrderStatus,
    Org,
    PaymentStatus,
    Resident,
    Role,
    Settlement,
    SettlementStatus,
    User,
)
from huiju.runtime import Runtime
from huiju.services.actors import SYSTEM, load_actor
from huiju.services.materials import UploadStore
from huiju.services.o2o import credit, dispatch, family, feedback, orders, settlement
from huiju.services.o2o.policy import update_policy
from tests.integration.conftest import Driver, Sandbox, wait_for
from tests.support.seeded import bookable_slot

pytestmark = pytest.mark.integration

SON = "son-in-shanghai"
SON_PHONE = "13601760001"
OFFICER, REVIEWER = "officer-chaoyang-01", "officer-chaoyang-02"
# 80 or older, ordinary income: tier C, ¥200 of service credit a month.
TIER_C = {"income_band": "ordinary", "disability": "none", "living_alone": True}


def elder(driver: Driver) -> Resident:
    """An elderly woman of 望京西园社区 (served by both meal providers) with a phone and no credit yet."""
    with driver.rt.db.sessions() as session:
        home = session.scalars(select(Org.id).where(Org.code == "110105001001")).one()
        granted = select(Entitlement.resident_id)
        found = session.scalars(
            select(Resident).where(Resident.community_id == home, Resident.birth_date <= date(1944, 1, 1),
                                   Resident.phone.is_not(None), Resident.id_number != DEMO_APPLICANT,
                                   Resident.id.not_in(granted))
            .order_by(Resident.id)
        ).first()  # fmt: skip
        assert found is not None, "the seed has no elderly resident of 望京西园社区 left"
        return found


def balance(rt: Runtime, resident_id: int) -> int:
    with rt.db.sessions() as session:
        value = credit.balance(session, resident_id)
        assert credit.ledger_total(session, resident_id) == value, "the ledger must add up to the balance"
        return value


def order_of(rt: Runtime, number: str) -> Order:
    with rt.db.sessions() as session:
        found = session.scalars(select(Order).where(Order.number == number)).one()
        _ = found.provider, found.events
        return found


def wait_order(rt: Runtime, number: str, what: str, check: Any) -> Order:
    def found() -> Order | None:
        order = order_of(rt, number)
        return order if check(order) else None

    return wait_for(found, f"order {number}: {what}")  # type: ignore[no-any-return]


def place(rt: Runtime, code: str, beneficiary: int, quantity: int) -> str:
    with rt.db.transaction() as session:
        slot = bookable_slot(session, code, quantity)
        placement = orders.Placement(service_code=code, beneficiary_id=beneficiary, slot_id=slot, quantity=quantity,
                                     address="望京西园三区5号楼1单元201", contact_phone=SON_PHONE)  # fmt: skip
        return orders.place_order(session, rt.engine, load_actor(session, SON), placement).number


def sms_to(sandbox: Sandbox, phone: str, number: str) -> list[str]:
    store = sandbox._request("GET", "/_sandbox/store")
    return [m["template"] for m in store["sms"] if m["phone"] == phone and m["params"].get("order_number") == number]


def sms_of(sandbox: Sandbox, number: str) -> list[dict[str, Any]]:
    store = sandbox._request("GET", "/_sandbox/store")
    return [m for m in store["sms"] if m["params"].get("order_number") == number]


def test_the_son_orders_meals_paid_by_the_approved_credit(driver: Driver, sandbox: Sandbox) -> None:
    rt = driver.rt
    mother = elder(driver)
    with rt.db.transaction() as session:
        update_policy(session, SYSTEM, {"accept_within": "PT3S"})  # a provider has 3 s to accept, in this test
        son = User(username=SON, display_name="李明（在上海）", role=Role.RESIDENT)  # no resident record here
        son.set_password(DEMO_PASSWORD)
        session.add(son)

    # Her subsidy is approved: service credit, ¥200 a month for twelve months.
    number = driver.submit(mother.id_number, TIER_C, as_user=OFFICER)
    driver.wait_status(number, CaseStatus.INTAKE)
    driver.complete(number, OFFICER, "accept")
    driver.complete(number, "reviewer-wangjing-01", "approve")
    case = driver.wait_status(number, CaseStatus.CONCLUDED)
    assert case.outcome == "approved"
    assert wait_for(lambda: balance(rt, mother.id) == 20000, "the approval's credit")

    # Her son links his account to hers: the code goes to her phone, she tells him, he types it.
    def call(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        return call_now(rt.db, operation, params, user_id="test", security=rt.security)

    with rt.db.sessions() as session:
        son_actor = load_actor(session, SON)
    link_id = family.request_link(rt.db, call, son_actor, parent_id_number=mother.id_number, parent_name=mother.name,
                                  relation="child", secret=b"e2e-secret")  # fmt: skip
    store = sandbox._request("GET", "/_sandbox/store")
    (code,) = [
        m["params"]["code"] for m in store["sms"] if m["template"] == "FAMILY_LINK_CODE" and m["phone"] == mother.phone
    ]
    family.confirm_link(rt.db, son_actor, link_id, code, b"e2e-secret")

    # A cleaning first (¥80, all by credit), then meal delivery: ¥135, ¥120 by credit, ¥15 to pay.
    cleaning = place(rt, "AX-CLEAN", mother.id, 2)
    assert balance(rt, mother.id) == 12000
    meals = place(rt, "YY-MEAL", mother.id, 9)
    found = order_of(rt, meals)
    assert (found.total_fen, found.credit_fen, found.cash_fen) == (13500, 12000, 1500)
    assert balance(rt, mother.id) == 0
    # The payment platform plays the payer: paid, said by its signed callback; the order goes out.
    found = wait_order(rt, meals, "paid and offered", lambda o: o.payment_status is PaymentStatus.PAID
                       and o.status is OrderStatus.DISPATCHED and o.provider is not None)  # fmt: skip
    assert found.provider is not None and found.provider.code == "YIYANG"
    first_offered = found.provider.name

    def payment_callbacks() -> list[tuple[str, str]] | None:
        """The platform's payment callbacks of the order, once each has our answer (the sandbox writes
        the outcome after the answer comes back, which can be after the order is seen paid)."""
        sent = [(c["values"]["status"], c["outcome"]) for c in sandbox._request("GET", "/_sandbox/callbacks")
                if c["operation"] == "NotifyPayment" and c["case_number"] == meals]  # fmt: skip
        return sent if sent and all(outcome != "pending" for _, outcome in sent) else None

    assert wait_for(payment_callbacks, "the payment callback's answer") == [("paid", "accepted")]
    # 颐养 does not answer in time; the worker's timer offers it to 乐膳, which accepts.
    found = wait_order(rt, meals, "offered to the second provider",
                       lambda o: o.provider is not None and o.provider.code == "LESHAN")  # fmt: skip
    with rt.db.transaction() as session:
        dispatch.answer_offer(session, rt.engine, load_actor(session, "provider-leshan"), meals, accept=True)
    assert order_of(rt, meals).status is OrderStatus.ACCEPTED  # at once, whatever the SMS platform does
    with rt.db.transaction() as session:  # and its service can start at once too
        dispatch.arrive(session, rt.engine, load_actor(session, "provider-leshan"), meals)
    with rt.db.transaction() as session:
        dispatch.finish(session, rt.engine, UploadStore.from_settings(rt.settings),
                        load_actor(session, "provider-leshan"), meals, "午餐九份已送到")  # fmt: skip
    wait_order(rt, meals, "done", lambda o: o.status is OrderStatus.DONE)

    def confirm() -> bool:  # the confirmation step is ready once the worker has sent the 'done' SMS
        with rt.db.transaction() as session:
            task = orders.ready_task(session, order_of(rt, meals), "confirm")
            if task is None:
                return False
            orders.confirm_order(session, rt.engine, load_actor(session, SON), meals)
            return True

    wait_for(confirm, "the confirmation step")
    wait_order(rt, meals, "confirmed", lambda o: o.status is OrderStatus.CONFIRMED)
    with rt.db.transaction() as session:
        feedback.rate_order(session, load_actor(session, SON), meals, 5, "饭菜热乎，送得及时")
    assert balance(rt, mother.id) == 0
    for phone in (SON_PHONE, str(mother.phone)):
        sent = wait_for(lambda p=phone: (t := sms_to(sandbox, p, meals)) and "ORDER_CONFIRMED" in t and t,
                        f"the SMS to {phone}")  # fmt: skip
        assert {"ORDER_PLACED", "ORDER_ACCEPTED", "ORDER_ON_THE_WAY", "ORDER_DONE", "ORDER_CONFIRMED"} <= set(sent)
    # The son was asked to pay the ¥15 with the checkout page's link; both heard whom it was offered to.
    (due,) = [m for m in sms_of(sandbox, meals) if m["template"] == "ORDER_PAYMENT_DUE"]
    assert due["phone"] == SON_PHONE and due["params"]["amount"] == "¥15.00"
    assert found.payment_id and found.payment_id in due["params"]["link"] and due["params"]["link"] in due["text"]
    leshan = order_of(rt, meals).provider
    assert leshan is not None
    # Each offer's SMS went out while the offer stood; one still unsent when the offer ended (乐膳
    # accepted within the second) was not sent any more.
    for phone in (SON_PHONE, str(mother.phone)):
        offered = [m["params"]["provider"] for m in sms_of(sandbox, meals)
                   if m["template"] == "ORDER_OFFERED_TO_PROVIDER" and m["phone"] == phone]  # fmt: skip
        assert offered == [name for name in (first_offered, leshan.name) if name in offered], offered  # in turn
    with rt.db.sessions() as session:
        round_sms = session.scalars(
            select(OutboxMessage.status).where(
                OutboxMessage.process_instance_id == order_of(rt, meals).process_instance_id,
                OutboxMessage.operation == "sms.send_sms",
                OutboxMessage.params["template"].as_string().in_(["ORDER_OFFERED", "ORDER_OFFERED_TO_PROVIDER"]),
            )
        ).all()
    assert round_sms and set(round_sms) <= {MessageStatus.DELIVERED, MessageStatus.CANCELLED}, round_sms
    assert order_of(rt, cleaning).status in (OrderStatus.DISPATCHED, OrderStatus.UNASSIGNED)

    # The month is settled once the month is over: one signed record per provider, published once.
    confirmed = order_of(rt, meals).confirmed_at
    assert confirmed is not None
    month = confirmed.astimezone(CHINA).strftime("%Y-%m")
    _start, end = settlement.month_bounds(month)
    security = rt.security
    assert security is not None
    with rt.db.transaction() as session:
        report = settlement.settle_month(session, rt.engine, load_actor(session, "operator"), month,
                                         lambda: security().signer, now=end + timedelta(hours=1))  # fmt: skip
        assert [s.provider.code for s in report.created] == ["LESHAN"]
    wait_for(
        lambda: (
            _settlements(rt, month) and all(s.status is SettlementStatus.PUBLISHED for s in _settlements(rt, month))
        ),
        "the settlement published",
    )
    with rt.db.transaction() as session:
        again = settlement.settle_month(session, rt.engine, load_actor(session, "operator"), month,
                                        lambda: security().signer, now=end + timedelta(days=2))  # fmt: skip
        assert again.already
    published = [r["fields"] for r in sandbox._request("GET", "/_sandbox/store")["records"].get("o2o_settlement", [])
                 if r["fields"]["month"] == month]  # fmt: skip
    assert len(published) == 1
    record = published[0]
    assert (record["provider_code"], record["orders"], record["total_fen"], record["credit_fen"], record["cash_fen"]) == (
        "LESHAN", "1", "13500", "12000", "1500")  # fmt: skip
    assert record["signature"] and record["signer_serial"]


def _settlements(rt: Runtime, month: str) -> list[Settlement]:
    with rt.db.sessions() as session:
        return list(session.scalars(select(Settlement).where(Settlement.month == month)))
