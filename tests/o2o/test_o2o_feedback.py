"""After the service: a provider whose average rating falls below the platform's threshold is flagged;
a complaint about an order is acknowledged by SMS and answered by the operator within its limit."""

from __future__ import annotations

import pytest
from o2o_support import OPERATOR, SECOND, SON, SON_PHONE, answer, link_son, order, place
from sqlalchemy import select

from exchange.models import OutboxMessage
from huiju.errors import ConflictError, PermissionDenied
from huiju.models import ComplaintStatus, OrderStatus
from huiju.runtime import Runtime
from huiju.services.actors import load_actor
from huiju.services.materials import UploadStore
from huiju.services.o2o import dispatch, feedback, orders
from tests.support.canned import deliver_replies
from workflows_bpmn.models import HumanTask, HumanTaskStatus


def served_and_confirmed(runtime: Runtime) -> str:
    number = place(runtime, "LS-MEAL")
    deliver_replies(runtime)
    answer(runtime, SECOND, number)
    for step in ("arrive", "finish", "confirm"):
        with runtime.db.transaction() as session:
            if step == "arrive":
                dispatch.arrive(session, runtime.engine, load_actor(session, SECOND), number)
            elif step == "finish":
                dispatch.finish(session, runtime.engine, UploadStore.from_settings(runtime.settings),
                                load_actor(session, SECOND), number, "已送达")  # fmt: skip
            else:
                orders.confirm_order(session, runtime.engine, load_actor(session, SON), number)
        deliver_replies(runtime)
    assert order(runtime, number).status is OrderStatus.CONFIRMED
    return number


def test_a_provider_rated_below_the_threshold_is_flagged(runtime: Runtime) -> None:
    link_son(runtime)
    levels = (2, 3, 2)  # an average of 2.3, below 3.0, after the three ratings the policy asks for
    for count, level in enumerate(levels, start=1):
        number = served_and_confirmed(runtime)
        with runtime.db.transaction() as session:
            feedback.rate_order(session, load_actor(session, SON), number, level)
            standing = next(s for s in feedback.standings(session) if s.provider.code == "LESHAN")
            assert standing.ratings == count
            assert standing.flagged is (count == len(levels))  # too few ratings before that to say
    with runtime.db.sessions() as session:
        first = feedback.standings(session)[0]
        assert first.provider.code == "LESHAN" and first.flagged and round(first.average or 0, 1) == 2.3
        assert not any(s.flagged for s in feedback.standings(session)[1:])


def test_a_complaint_is_acknowledged_and_answered_within_its_limit(runtime: Runtime) -> None:
    link_son(runtime)
    number = served_and_confirmed(runtime)
    with runtime.db.transaction() as session:
        complaint = feedback.raise_complaint(session, runtime.engine, load_actor(session, SON), number,
                                             "送来的饭是凉的")  # fmt: skip
        complaint_number, due = complaint.number, complaint.due_on
    deliver_replies(runtime)
    with runtime.db.sessions() as session:
        task = session.scalars(select(HumanTask).where(HumanTask.step == "answer",
                                                       HumanTask.status == HumanTaskStatus.READY)).one()  # fmt: skip
        assert task.role == "operator" and task.due_at is not None and task.due_at.date() >= due
    with runtime.db.transaction() as session, pytest.raises(PermissionDenied):
        feedback.answer_complaint(session, runtime.engine, load_actor(session, SECOND), complaint_number, "好的")
    with runtime.db.transaction() as session:
        feedback.answer_complaint(session, runtime.engine, load_actor(session, OPERATOR), complaint_number,
                                  "已核实，已要求服务商改用保温箱，并向您致歉")  # fmt: skip
    deliver_replies(runtime)
    with runtime.db.sessions() as session:
        (found,) = feedback.complaints(session, load_actor(session, OPERATOR))
        assert found.status is ComplaintStatus.ANSWERED and found.answered_by == OPERATOR
        sent = [(m.params["template"], m.params["phone"]) for m in session.scalars(
            select(OutboxMessage).where(OutboxMessage.operation == "sms.send_sms").order_by(OutboxMessage.id))]  # fmt: skip
        assert ("COMPLAINT_RECEIVED", SON_PHONE) in sent  # the orderer, at the phone of the order
        assert sent[-1][0] == "COMPLAINT_ANSWERED"
    with runtime.db.transaction() as session, pytest.raises(ConflictError):
        feedback.answer_complaint(session, runtime.engine, load_actor(session, OPERATOR), complaint_number, "再答")
    assert "complaint_answered" in [e.kind for e in order(runtime, number).events]
