"""Reconciliation (对账): a case that waited too long for the extranet's decision asks with QueryCase and
settles from the answer; an SMS whose delivery report did not come is asked about with QueryDelivery.
A decision or a delivery reached both ways is applied once.

The wait is a setting (``HUIJU_DECISION_QUERY_AFTER``), one working day by default; here one second,
so that the timer of the waiting step (``timer_query_egov``) comes due within the test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from adapters.config import AdapterConfig
from adapters.sandbox.server import SandboxServer
from adapters.tls import ServerTls
from certs.store import init_dev_pki, load_signing_identity
from certs.trust import TrustStore
from exchange.correlation import CallbackKind, CallbackRecord, CallbackState, Reconciliation, Source
from exchange.models import MessageStatus, OutboxMessage
from huiju import migrate
from huiju.app.bootstrap import build_runtime
from huiju.app.reconcile import figures, run_round
from huiju.app.seed import seed_all
from huiju.db import utcnow
from huiju.runtime import Runtime
from huiju.settings import load_settings
from tests.inbound.inbound_support import Inbound, callback_tree, new_message_id, signed
from workflows_bpmn.models import InstanceStatus, ProcessInstance

DECIDED = {"status": "archived", "decision": "approved", "decided_by": "egov-reviewer-01",
           "decided_at": "2026-03-03T09:00:00+08:00", "reason": ""}  # fmt: skip


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    """As in conftest.py, with a wait for the extranet's decision of one second."""
    instance = tmp_path / "instance"
    instance.mkdir()
    init_dev_pki(instance / "certs")
    settings = load_settings(instance_path=instance, env="test", decision_query_after="PT1S")
    rt = build_runtime(settings, with_celery=False)
    migrate.upgrade(rt.db)
    with rt.db.transaction() as session:
        seed_all(session, "http://127.0.0.1:9")
    yield rt
    rt.db.dispose()


def wake(rt: Runtime, instance_id: int, seconds: float = 20.0) -> None:
    """Poll the instance's timers, as the sweep does, until one fired (or fail after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with rt.db.transaction() as session:
            if rt.engine.wake_timers(session, instance_id) is not None:
                return
        time.sleep(0.05)
    raise AssertionError(f"no timer of instance {instance_id} fired within {seconds} s")


def query_of(inbound: Inbound) -> OutboxMessage:
    (query,) = [m for m in inbound.outbox("egov.query_case") if m.status is MessageStatus.PENDING]
    return query


def answer(rt: Runtime, message_id: str, reply: dict[str, Any]) -> None:
    with rt.db.transaction() as session:
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.message_id == message_id)).one()
        message.status, message.reply, message.attempts = MessageStatus.DELIVERED, reply, 1
        message.delivered_at = utcnow()
    with rt.db.transaction() as session:
        rt.engine.settle(session, message_id)


def reply(inbound: Inbound, **overrides: Any) -> dict[str, Any]:
    base = {"receipt_number": inbound.receipt_number, "case_number": inbound.case_number,
            "status": "received", "updated_at": "2026-03-02T10:00:00+08:00",
            "decision": None, "decided_by": None, "decided_at": None, "reason": ""}  # fmt: skip
    return {**base, **overrides}


def sms_templates(inbound: Inbound) -> list[str]:
    return [m.params["template"] for m in inbound.outbox("sms.send_sms")]


def test_a_late_decision_is_asked_for_and_the_answer_settles_the_case(inbound: Inbound) -> None:
    rt = inbound.rt
    wake(rt, inbound.instance_id)
    query = query_of(inbound)
    assert query.params == {"receipt_number": inbound.receipt_number}
    assert not inbound.waits()  # the wait was interrupted to ask; a callback now is held (below)
    answer(rt, query.message_id, reply(inbound, **DECIDED))
    assert sms_templates(inbound) == ["CASE_RECEIVED", "CASE_ACCEPTED", "SUBSIDY_APPROVED"]
    assert not inbound.waits()
    # the callback, delayed, arrives after all: accepted, recorded as a duplicate, applied never again
    answer_ = inbound.call(inbound.decision())
    assert answer_.status == 200 and answer_.fault is None
    with rt.db.sessions() as session:
        (record,) = session.scalars(select(CallbackRecord)).all()
        assert record.state is CallbackState.DUPLICATE
    assert sms_templates(inbound) == ["CASE_RECEIVED", "CASE_ACCEPTED", "SUBSIDY_APPROVED"]
    with rt.db.sessions() as session:
        assert figures(session)["query_case"] == 1


def test_undecided_the_case_waits_again_and_asks_again_later(inbound: Inbound) -> None:
    rt = inbound.rt
    wake(rt, inbound.instance_id)
    answer(rt, query_of(inbound).message_id, reply(inbound))
    assert inbound.waits()  # back at the waiting step, its timer armed again
    with rt.db.sessions() as session:
        instance = session.get(ProcessInstance, inbound.instance_id)
        assert instance is not None and instance.next_timer_due is not None
    wake(rt, inbound.instance_id)
    assert len(inbound.outbox("egov.query_case")) == 2
    answer(rt, query_of(inbound).message_id, reply(inbound, **{**DECIDED, "decision": "denied", "reason": "不符"}))
    assert sms_templates(inbound) == ["CASE_RECEIVED", "CASE_ACCEPTED", "SUBSIDY_DENIED"]


def test_a_callback_while_the_extranet_is_asked_is_held_and_applied_once(inbound: Inbound) -> None:
    rt = inbound.rt
    wake(rt, inbound.instance_id)
    query = query_of(inbound)
    first = inbound.call(inbound.decision())
    assert first.status == 200 and first.fault is None
    with rt.db.sessions() as session:
        assert [r.state for r in session.scalars(select(CallbackRecord))] == [CallbackState.HELD]
    answer(rt, query.message_id, reply(inbound))  # not decided yet, says the query
    # back at the waiting step: the held decision goes through at once
    with rt.db.sessions() as session:
        assert [r.state for r in session.scalars(select(CallbackRecord))] == [CallbackState.APPLIED]
    assert sms_templates(inbound) == ["CASE_RECEIVED", "CASE_ACCEPTED", "SUBSIDY_APPROVED"]


def test_a_held_callback_the_query_answered_first_is_applied_once(inbound: Inbound) -> None:
    rt = inbound.rt
    wake(rt, inbound.instance_id)
    query = query_of(inbound)
    assert inbound.call(inbound.decision()).status == 200
    answer(rt, query.message_id, reply(inbound, **DECIDED))
    with rt.db.sessions() as session:
        assert [r.state for r in session.scalars(select(CallbackRecord))] == [CallbackState.DUPLICATE]
    assert sms_templates(inbound) == ["CASE_RECEIVED", "CASE_ACCEPTED", "SUBSIDY_APPROVED"]
    with rt.db.sessions() as session:
        instance = session.get(ProcessInstance, inbound.instance_id)
        assert instance is not None and instance.status is InstanceStatus.RUNNING  # publishing the record


def test_a_failing_query_goes_back_to_waiting(inbound: Inbound) -> None:
    rt = inbound.rt
    wake(rt, inbound.instance_id)
    query = query_of(inbound)
    with rt.db.transaction() as session:
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.message_id == query.message_id)).one()
        message.status, message.attempts, message.last_error = MessageStatus.DEAD, 3, "busy"
        message.last_error_transient = True
        rt.engine.settle(session, query.message_id)
    assert inbound.waits()
    with rt.db.sessions() as session:
        instance = session.get(ProcessInstance, inbound.instance_id)
        assert instance is not None and instance.status is InstanceStatus.RUNNING


# -- QueryDelivery, against the sandbox ---------------------------------------------------------------------


@pytest.fixture
def sms_sandbox(runtime: Runtime) -> Iterator[SandboxServer]:
    """The SMS platform's sandbox in secure mode, the SMS adapter pointed at it."""
    pki = runtime.settings.resolved_certs_folder
    server = SandboxServer(port=0, trust=TrustStore.load(pki), signer=load_signing_identity(pki, "sandbox"),
                           tls=ServerTls.from_store(pki, "sandbox"))  # fmt: skip
    with server:
        with runtime.db.transaction() as session:
            session.execute(
                update(AdapterConfig).where(AdapterConfig.system == "sms")
                .values(endpoint=f"{server.url}/sms", operation_timeout=5.0)
            )  # fmt: skip
        yield server


def test_an_sms_without_a_delivery_report_is_asked_about_once_and_recorded_once(
    inbound: Inbound, sms_sandbox: SandboxServer
) -> None:
    from adapters.client import call

    rt = inbound.rt
    receipt_sms, accepted_sms = inbound.outbox("sms.send_sms")  # 受理回执, then the 受理通知书's link
    assert (receipt_sms.params["template"], accepted_sms.params["template"]) == ("CASE_RECEIVED", "CASE_ACCEPTED")
    # the SMS platform really has that SMS (sent under the same message id), and reports nothing
    with rt.db.sessions() as session:
        config = session.scalars(select(AdapterConfig).where(AdapterConfig.system == "sms")).one()
        settings = config.snapshot()
    security = rt.security()
    sent = call("sms.send_sms", receipt_sms.params, settings=settings, message_id=receipt_sms.message_id,
                signer=security.signer, trust=security.trust, tls=security.tls)  # fmt: skip
    long_ago = utcnow() - timedelta(hours=1)
    with rt.db.transaction() as session:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.message_id == receipt_sms.message_id)
            .values(reply=sent, delivered_at=long_ago)
        )  # fmt: skip
    report = run_round(rt)
    assert report.asked == [receipt_sms.message_id] and report.learnt == [receipt_sms.message_id]
    delivered = [e for e in inbound.events() if e.kind == "sms_delivered"]
    assert [(e.detail, e.data.get("source")) for e in delivered] == [(sent["sms_id"], "query")]
    assert run_round(rt).asked == []  # known now: not asked again
    # the report arrives after all, late: recorded as a duplicate, not a second time on the timeline
    values = {"smsId": sent["sms_id"], "relatesTo": receipt_sms.message_id, "status": "delivered"}
    tree = callback_tree("NotifyDelivery", values, client="sms", message_id=new_message_id(),
                         case_number=inbound.case_number)  # fmt: skip
    late = inbound.call(signed(tree, inbound.sandbox))
    assert late.status == 200 and late.fault is None
    assert len([e for e in inbound.events() if e.kind == "sms_delivered"]) == 1
    with rt.db.sessions() as session:
        rows = session.scalars(select(CallbackRecord).where(CallbackRecord.kind == CallbackKind.DELIVERY)).all()
        assert [(r.source, r.state) for r in rows] == [
            (Source.QUERY, CallbackState.APPLIED),
            (Source.CALLBACK, CallbackState.DUPLICATE),
        ]
        (asked,) = session.scalars(select(Reconciliation)).all()
        assert asked.attempts == 1 and asked.settled
        assert figures(session)["query_delivery"] == 1
