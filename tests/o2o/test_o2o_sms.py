"""The SMS of an order's turns, sent over SOAP to the real sandbox and read back from its SMS store:
the orderer asked to pay with the platform's checkout link, the orderer and the parent told which
provider the order is offered to, the provider the operator assigned told as an offer tells one; and
the SMS platform refusing any of them leaves the order going on."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import pytest
from o2o_support import FIRST, OPERATOR, SECOND, SON_PHONE, link_son, mother_id, order, pay, place
from sqlalchemy import select

from adapters.sandbox.server import SandboxServer
from adapters.sandbox.state import FaultRule
from exchange.models import MessageStatus, OutboxMessage
from huiju.app.bootstrap import build_runtime
from huiju.models import OrderStatus, Provider, Resident
from huiju.runtime import Runtime
from huiju.services.actors import SYSTEM, load_actor
from huiju.services.o2o import dispatch
from huiju.services.o2o.policy import update_policy
from huiju.settings import load_settings
from tests.support.seeded import seeded_copy
from workflows_bpmn.models import InstanceStatus, ProcessInstance
from workflows_bpmn.tasks import process_message

PAY_DUE, OFFERED_TO, ASSIGNED_TO = "ORDER_PAYMENT_DUE", "ORDER_OFFERED_TO_PROVIDER", "ORDER_ASSIGNED_TO_PROVIDER"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(port=0) as server:
        yield server


@pytest.fixture
def rt(tmp_path: Path, pki: Path, sandbox: SandboxServer) -> Iterator[Runtime]:
    """A runtime whose adapters call the sandbox; offers wait an hour (no timer fires in a test)."""
    sandbox.state.reset()
    seeded_copy(tmp_path, sandbox.url)
    runtime = build_runtime(
        load_settings(instance_path=tmp_path, env="test", certs_folder=pki, exchange_signing=False), with_celery=False
    )
    with runtime.db.transaction() as session:
        update_policy(session, SYSTEM, {"accept_within": "PT1H"})
    yield runtime
    runtime.db.dispose()


def deliver(rt: Runtime, sandbox: SandboxServer, number: str, refuse: Collection[str] = ()) -> None:
    """Send the order's pending messages over SOAP to the sandbox, as the worker does, until none is
    left; the SMS platform refuses (a permanent fault) every SMS of the templates in ``refuse``."""
    while True:
        with rt.db.sessions() as session:
            pending = session.scalars(
                select(OutboxMessage).where(OutboxMessage.case_number == number,
                                            OutboxMessage.status == MessageStatus.PENDING).order_by(OutboxMessage.id)
            ).all()  # fmt: skip
        if not pending:
            return
        for message in pending:
            with rt.db.sessions() as session:
                if session.get(OutboxMessage, message.id).status is not MessageStatus.PENDING:  # type: ignore[union-attr]
                    continue  # its step was cancelled with the rest of its subprocess
            refused = message.operation == "sms.send_sms" and message.params["template"] in refuse
            if refused:
                sandbox.state.add_fault(FaultRule("SendSms", "client_fault", 1))
            status = process_message(rt, message.message_id)
            assert status is (MessageStatus.DEAD if refused else MessageStatus.DELIVERED), (message.operation, status)


def sms_of(sandbox: SandboxServer, number: str, template: str) -> list[dict[str, Any]]:
    """The SMS of ``template`` about the order that the SMS platform took, as its store keeps them."""
    with sandbox.state.lock:
        stored = list(sandbox.state.stores.sms.values())
    return [s for s in stored if s["template"] == template and s["params"].get("order_number") == number]


def refused(rt: Runtime, number: str, template: str) -> list[str]:
    """The phones of the order's SMS of ``template`` that the platform refused for good."""
    with rt.db.sessions() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.case_number == number,
                                                           OutboxMessage.operation == "sms.send_sms",
                                                           OutboxMessage.status == MessageStatus.DEAD))  # fmt: skip
        return [str(m.params["phone"]) for m in rows if m.params["template"] == template]


def instance_status(rt: Runtime, number: str) -> InstanceStatus:
    with rt.db.sessions() as session:
        return session.scalars(select(ProcessInstance.status).where(
            ProcessInstance.id == order(rt, number).process_instance_id)).one()  # fmt: skip


def payment_link(rt: Runtime, number: str) -> str:
    """The checkout page's address the payment platform answered CreatePayment with."""
    with rt.db.sessions() as session:
        reply = session.scalars(select(OutboxMessage.reply).where(
            OutboxMessage.case_number == number, OutboxMessage.operation == "payment.create_payment")).one()  # fmt: skip
    assert reply is not None and reply["pay_url"]
    return str(reply["pay_url"])


def provider(rt: Runtime, code: str) -> Provider:
    with rt.db.sessions() as session:
        return session.scalars(select(Provider).where(Provider.code == code)).one()


def mother_phone(rt: Runtime) -> str:
    with rt.db.sessions() as session:
        return str(session.scalars(select(Resident.phone).where(Resident.id == mother_id(rt))).one())


def place_repair(rt: Runtime, sandbox: SandboxServer, refuse: Collection[str] = ()) -> str:
    """The son orders a repair for his mother (no credit pays repairs: ¥50 to pay); it is opened."""
    link_son(rt)
    number = place(rt, "WY-REPAIR")
    deliver(rt, sandbox, number, refuse)
    return number


def assign_by_hand(rt: Runtime, sandbox: SandboxServer, refuse: Collection[str] = ()) -> str:
    """A meal both providers decline; the operator gives it to 乐膳 (LESHAN) by hand."""
    link_son(rt)
    number = place(rt, "YY-MEAL")  # all by credit: offered at once
    deliver(rt, sandbox, number)
    for username, reason in ((FIRST, "今日送餐员不足"), (SECOND, "超出配送能力")):
        with rt.db.transaction() as session:
            dispatch.answer_offer(session, rt.engine, load_actor(session, username), number, accept=False,
                                  reason=reason)  # fmt: skip
        deliver(rt, sandbox, number)
    assert order(rt, number).status is OrderStatus.UNASSIGNED
    with rt.db.transaction() as session:
        dispatch.assign(session, rt.engine, load_actor(session, OPERATOR), number, "LESHAN")
    deliver(rt, sandbox, number, refuse)
    return number


def test_the_orderer_is_asked_to_pay_with_the_platforms_link(rt: Runtime, sandbox: SandboxServer) -> None:
    number = place_repair(rt, sandbox)
    found = order(rt, number)
    assert found.cash_fen == 5000 and found.status is OrderStatus.PLACED
    (sms,) = sms_of(sandbox, number, PAY_DUE)
    assert sms["phone"] == SON_PHONE  # the orderer pays, not the parent
    assert sms["params"] == {"order_number": number, "service": found.service.name, "time": sms["params"]["time"],
                             "amount": "¥50.00", "link": payment_link(rt, number)}  # fmt: skip
    assert sms["params"]["time"] and found.payment_id and found.payment_id in sms["params"]["link"]
    assert "¥50.00" in sms["text"] and sms["params"]["link"] in sms["text"] and "{" not in sms["text"]
    pay(rt, number)
    deliver(rt, sandbox, number)
    assert len(sms_of(sandbox, number, PAY_DUE)) == 1  # asked once


def test_the_son_and_his_mother_are_told_which_provider_the_order_is_offered_to(
    rt: Runtime, sandbox: SandboxServer
) -> None:
    link_son(rt)
    number = place(rt, "YY-MEAL")  # all by credit: no payment, offered at once
    deliver(rt, sandbox, number)
    yiyang, leshan = provider(rt, "YIYANG"), provider(rt, "LESHAN")
    told = sms_of(sandbox, number, OFFERED_TO)
    assert sorted(s["phone"] for s in told) == sorted([SON_PHONE, mother_phone(rt)])
    for sms in told:
        assert sms["params"] == {"order_number": number, "service": order(rt, number).service.name,
                                 "time": sms["params"]["time"], "provider": yiyang.name}  # fmt: skip
        assert yiyang.name in sms["text"]
    assert [s["phone"] for s in sms_of(sandbox, number, "ORDER_OFFERED")] == [yiyang.phone]
    # The first provider declines: the order is offered to the next one, and the family told again.
    with rt.db.transaction() as session:
        dispatch.answer_offer(session, rt.engine, load_actor(session, FIRST), number, accept=False, reason="今日无人")
    deliver(rt, sandbox, number)
    assert [s["params"]["provider"] for s in sms_of(sandbox, number, OFFERED_TO)] == [yiyang.name] * 2 + [
        leshan.name
    ] * 2
    assert [s["phone"] for s in sms_of(sandbox, number, "ORDER_OFFERED")] == [yiyang.phone, leshan.phone]


def test_the_provider_the_operator_assigns_is_told_by_sms(rt: Runtime, sandbox: SandboxServer) -> None:
    number = assign_by_hand(rt, sandbox)
    leshan = provider(rt, "LESHAN")
    (sms,) = sms_of(sandbox, number, ASSIGNED_TO)
    assert sms["phone"] == leshan.phone
    assert sms["params"] == {"order_number": number, "service": order(rt, number).service.name,
                             "time": sms["params"]["time"], "provider": leshan.name}  # fmt: skip
    assert sms["params"]["time"] and number in sms["text"] and "{" not in sms["text"]
    # The family hears of it as before, and no one else gets the provider's SMS.
    assert {s["phone"] for s in sms_of(sandbox, number, "ORDER_ACCEPTED")} == {SON_PHONE, mother_phone(rt)}
    assert order(rt, number).status is OrderStatus.ACCEPTED


def _goes_on_after_payment(rt: Runtime, sandbox: SandboxServer, number: str) -> None:
    pay(rt, number)
    deliver(rt, sandbox, number)
    found = order(rt, number)
    assert found.status is OrderStatus.DISPATCHED and found.provider is not None


def _goes_on_after_offer(rt: Runtime, sandbox: SandboxServer, number: str) -> None:
    assert sms_of(sandbox, number, "ORDER_OFFERED")  # the provider still hears of the offer
    with rt.db.transaction() as session:
        dispatch.answer_offer(session, rt.engine, load_actor(session, FIRST), number, accept=True)
    deliver(rt, sandbox, number)
    assert order(rt, number).status is OrderStatus.ACCEPTED


def _goes_on_after_assignment(rt: Runtime, sandbox: SandboxServer, number: str) -> None:
    assert order(rt, number).status is OrderStatus.ACCEPTED
    with rt.db.transaction() as session:
        dispatch.arrive(session, rt.engine, load_actor(session, SECOND), number)
    deliver(rt, sandbox, number)
    assert order(rt, number).status is OrderStatus.ON_THE_WAY


def _offered_meal(rt: Runtime, sandbox: SandboxServer, refuse: Collection[str]) -> str:
    link_son(rt)
    number = place(rt, "YY-MEAL")
    deliver(rt, sandbox, number, refuse)
    return number


@pytest.mark.parametrize(
    ("template", "start", "goes_on"),
    [
        (PAY_DUE, place_repair, _goes_on_after_payment),
        (OFFERED_TO, _offered_meal, _goes_on_after_offer),
        (ASSIGNED_TO, assign_by_hand, _goes_on_after_assignment),
    ],
    ids=["asked to pay", "offered to a provider", "assigned by hand"],
)
def test_an_sms_the_platform_refuses_leaves_the_order_going_on(
    rt: Runtime, sandbox: SandboxServer, template: str, start: Any, goes_on: Any
) -> None:
    number = start(rt, sandbox, refuse=[template])
    assert refused(rt, number, template) and sms_of(sandbox, number, template) == []
    assert instance_status(rt, number) is InstanceStatus.RUNNING  # no incident: nobody has to retry it
    goes_on(rt, sandbox, number)
    assert instance_status(rt, number) is InstanceStatus.RUNNING
