"""Regressions for the review of the engine: each test reproduces one finding on a small process.

The processes are built here as strings and deployed into a fresh SQLite database per test; the
engine runs without Celery (messages are claimed, recorded and settled in-process) and time is
moved with freezegun, never waited for.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from freezegun import freeze_time
from process_support import (
    ERROR,
    FUNCTIONS,
    T0,
    Maker,
    flow,
    lane,
    process,
    service,
    service_process,
    timer,
    timer_process,
)
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from adapters.sandbox.people import ZHANG_XIUYING
from exchange import delivery
from exchange.models import MessageStatus
from huiju.db import utcnow
from huiju.errors import DeployError, ExpressionError, HuijuError, InputError, PermanentAdapterError
from huiju.services.tasks import check_form
from huiju.web.problems import http_status
from workflows_bpmn.definitions import bundled_process_files, read_sources
from workflows_bpmn.expressions import SafeEnvironment, host_functions
from workflows_bpmn.models import HumanTask, InstanceStatus, ProcessInstance
from workflows_bpmn.tasks import SweepReport, due_timer_instances, settle_message
from workflows_bpmn.validation import parse_bundle

# -- 1. one failing instance does not stop the sweep ----------------------------------------------

NO_MATCH = '<bpmn:exclusiveGateway id="g"/>' + flow("f3", "g", "e", "x == 1")


def test_sweep_puts_a_failing_instance_in_incident_and_fires_the_others(make: Maker) -> None:
    h = make(
        timer_process("bad", "<bpmn:timeDuration>'PT1S'</bpmn:timeDuration>", NO_MATCH),
        timer_process("good", "<bpmn:timeDuration>'PT2S'</bpmn:timeDuration>"),
    )
    with freeze_time(T0) as clock:
        bad = h.start("bad", {"x": 0}).instance.id
        good = h.start("good").instance.id
        clock.tick(timedelta(hours=1))

        report = h.sweep()

        assert report.woken == [good]
        assert h.instance(good).status is InstanceStatus.COMPLETED
        assert "timer_fired" in h.kinds(good)
        poisoned = h.instance(bad)
        assert poisoned.status is InstanceStatus.INCIDENT
        [incident] = [entry for iid, entry in h.seen if iid == bad and entry.kind == "incident"]
        assert incident.actor == "system" and incident.detail

        seen = len(h.seen)
        assert h.sweep() == SweepReport()
        assert len(h.seen) == seen
        after = h.instance(bad)
        assert (after.status, after.lock_version, after.serialized) == (
            InstanceStatus.INCIDENT,
            poisoned.lock_version,
            poisoned.serialized,
        )


# -- 2. SpiffWorkflow's 'typename' cannot be smuggled into stored state ---------------------------

USER_STEPS = process(
    "forms",
    lane("u", "u2") + '<bpmn:startEvent id="s"/>' + flow("f1", "s", "u") + '<bpmn:userTask id="u"/>'
    + flow("f2", "u", "u2") + '<bpmn:userTask id="u2"/>' + flow("f3", "u2", "e") + '<bpmn:endEvent id="e"/>',
)  # fmt: skip


def test_form_with_a_nested_typename_is_refused_and_nothing_is_written(make: Maker) -> None:
    h = make(USER_STEPS)
    [ready] = h.start("forms", context={"community_id": 1}).ready_tasks
    before = h.snapshot()
    with h.db.transaction() as session:
        human = session.get(HumanTask, ready.id)
        assert human is not None
        form = check_form(human, "approve", {"decision": "approve", "note": {"typename": "UUID", "value": "x"}})
    with pytest.raises(InputError, match="typename"), h.db.transaction() as session:
        h.engine.complete_task(session, ready.id, "officer", form)
    assert h.snapshot() == before


REPLY_THEN_USER = process(
    "reply",
    lane("u") + '<bpmn:startEvent id="s"/>' + flow("f1", "s", "svc") + service("svc") + flow("f2", "svc", "u")
    + '<bpmn:userTask id="u"/>' + flow("f3", "u", "e") + '<bpmn:endEvent id="e"/>',
)  # fmt: skip


def test_reply_holding_typename_is_stored_renamed_and_the_instance_still_loads(make: Maker) -> None:
    h = make(REPLY_THEN_USER)
    started = h.start("reply", {"idn": ZHANG_XIUYING}, {"community_id": 1})
    iid, [message] = started.instance.id, started.messages
    reply = {"match": True, "reason": {"typename": "UUID", "value": "x"}, "items": [{"typename": "date"}]}
    h.set_message(message.message_id, status=MessageStatus.DELIVERED, attempts=1, reply=reply)
    settle_message(h.db, h.engine, message.message_id)

    with h.db.sessions() as session:
        workflow = h.engine.load(session, iid)
        [user] = workflow.get_tasks(state=TaskState.READY)
        assert user.data["r"] == {"match": True, "reason": {"typename_": "UUID", "value": "x"},
                                  "items": [{"typename_": "date"}]}  # fmt: skip
        [human] = session.scalars(select(HumanTask).where(HumanTask.instance_id == iid)).all()
    with h.db.transaction() as session:
        h.engine.complete_task(session, human.id, "officer", {"decision": "approve"})
    assert h.instance(iid).status is InstanceStatus.COMPLETED


# -- 3. a delivery attempt that lost its lease does not overwrite the one that took over ----------

REPLY_A = {"match": True, "reason": None}
REPLY_B = {"match": False, "reason": "姓名与公民身份号码不一致"}


def test_lease_outlasts_the_adapter_timeouts(make: Maker) -> None:
    from exchange.delivery import LEASE_MARGIN_SECONDS

    h = make(service_process("call", boundary=False), adapters=True)
    with freeze_time(T0):
        [message] = h.start("call", {"idn": ZHANG_XIUYING}).messages
        claimed = delivery.claim(h.db, message.message_id, lease_seconds=1.0)
        assert claimed is not None
        locked_until = h.message(message.message_id).locked_until
    settings = claimed.settings
    assert LEASE_MARGIN_SECONDS > 0
    assert locked_until is not None
    assert locked_until - T0 >= timedelta(
        seconds=settings.connect_timeout + settings.operation_timeout + LEASE_MARGIN_SECONDS
    )


@pytest.mark.parametrize("taken_over_by", [MessageStatus.DEAD, MessageStatus.DELIVERED])
def test_late_attempt_does_not_overwrite_the_outcome_of_the_attempt_that_took_over(
    make: Maker, taken_over_by: MessageStatus
) -> None:
    h = make(service_process("call", boundary=False), adapters=True)
    with freeze_time(T0) as clock:
        started = h.start("call", {"idn": ZHANG_XIUYING})
        iid, mid = started.instance.id, started.messages[0].message_id
        first = delivery.claim(h.db, mid, lease_seconds=1.0)
        assert first is not None and first.attempt == 1
        assert delivery.claim(h.db, mid, lease_seconds=1.0) is None  # A holds the lease
        locked_until = h.message(mid).locked_until
        assert locked_until is not None
        clock.move_to(locked_until + timedelta(seconds=1))  # A's call is still in flight

        second = delivery.claim(h.db, mid, lease_seconds=1.0)
        assert second is not None and second.attempt == 2
        if taken_over_by is MessageStatus.DEAD:
            assert delivery.record(h.db, second, None, PermanentAdapterError("refused")) is MessageStatus.DEAD
            late = delivery.record(h.db, first, REPLY_A, None)
        else:
            assert delivery.record(h.db, second, REPLY_B, None) is MessageStatus.DELIVERED
            late = delivery.record(h.db, first, None, PermanentAdapterError("refused"))

        assert late is taken_over_by
        row = h.message(mid)
        assert (row.status, row.attempts) == (taken_over_by, 2)
        if taken_over_by is MessageStatus.DEAD:
            assert (row.reply, row.last_error) == (None, "refused")
        else:
            assert (row.reply, row.last_error) == (REPLY_B, None)

        settle_message(h.db, h.engine, mid)
    expected = InstanceStatus.INCIDENT if taken_over_by is MessageStatus.DEAD else InstanceStatus.COMPLETED
    assert h.instance(iid).status is expected


# -- 4. retrying an incident resends only calls whose step still waits ----------------------------

TWO_CALLS = process(
    "two",
    '<bpmn:startEvent id="s"/>' + flow("f1", "s", "a") + service("a", "ra")
    + '<bpmn:boundaryEvent id="catch" attachedToRef="a"><bpmn:errorEventDefinition errorRef="err"/>'
    + "</bpmn:boundaryEvent>" + flow("f2", "a", "b") + flow("f2b", "catch", "b") + service("b", "rb")
    + flow("f3", "b", "e") + '<bpmn:endEvent id="e"/>',
    before=ERROR,
)  # fmt: skip


def test_retry_incident_resends_only_messages_whose_step_still_waits(make: Maker) -> None:
    h = make(TWO_CALLS, adapters=True)
    iid = h.start("two", {"idn": ZHANG_XIUYING}).instance.id
    [caught] = h.pending()
    h.set_message(caught, status=MessageStatus.DEAD, last_error="budget spent")
    settle_message(h.db, h.engine, caught)  # the boundary on 'a' catches it; the process moves on to 'b'
    [uncaught] = h.pending()
    h.set_message(uncaught, status=MessageStatus.DEAD, last_error="budget spent")
    settle_message(h.db, h.engine, uncaught)  # nothing catches it on 'b'
    assert h.instance(iid).status is InstanceStatus.INCIDENT

    with h.db.transaction() as session:
        resent = h.engine.retry_incident(session, iid, "officer")

    assert resent == [uncaught]
    assert h.pending() == [uncaught]
    assert h.message(caught).status is MessageStatus.DEAD
    assert h.instance(iid).status is InstanceStatus.RUNNING


# -- 5. timer values are read as SpiffWorkflow reads them; an idle wake-up backs off --------------

NAIVE = "2030-01-07T09:00:00"


@pytest.fixture
def server_zone(monkeypatch: pytest.MonkeyPatch) -> timezone:
    """A server clock eight hours east of UTC, as SpiffWorkflow sees it (naive times are local)."""
    zone = timezone(timedelta(hours=8))
    monkeypatch.setattr(spiff_timer, "LOCALTZ", zone)
    return zone


def test_naive_time_date_is_due_when_spiffworkflow_fires_it(make: Maker, server_zone: timezone) -> None:
    h = make(timer_process("naive", f"<bpmn:timeDate>'{NAIVE}'</bpmn:timeDate>"))
    spiff_due = TimerEventDefinition.parse_time_or_duration(NAIVE)
    assert spiff_due == datetime(2030, 1, 7, 1, 0, tzinfo=UTC)
    with freeze_time(datetime(2030, 1, 1, tzinfo=UTC)) as clock:
        iid = h.start("naive").instance.id
        assert h.instance(iid).next_timer_due == spiff_due

        clock.move_to(spiff_due + timedelta(minutes=1))
        assert h.sweep().woken == [iid]
        assert h.instance(iid).status is InstanceStatus.COMPLETED
        assert h.kinds(iid).count("timer_fired") == 1
        assert h.sweep() == SweepReport()


def test_wake_up_that_fires_nothing_writes_nothing_and_backs_off(make: Maker, server_zone: timezone) -> None:
    h = make(timer_process("naive", f"<bpmn:timeDate>'{NAIVE}'</bpmn:timeDate>"))
    with freeze_time(datetime(2030, 1, 1, tzinfo=UTC)):
        iid = h.start("naive").instance.id
        seen = len(h.seen)
        with h.db.transaction() as session:  # a clock ahead of SpiffWorkflow's: due too early
            row = session.get(ProcessInstance, iid)
            assert row is not None
            row.next_timer_due = utcnow() - timedelta(minutes=1)

        h.sweep()

        assert len(h.seen) == seen
        instance = h.instance(iid)
        assert instance.status is InstanceStatus.RUNNING
        assert instance.next_timer_due is not None and instance.next_timer_due > utcnow()
        assert due_timer_instances(h.db) == []
        assert h.sweep() == SweepReport()


def test_sweep_reports_as_woken_only_instances_whose_timer_fired(make: Maker, server_zone: timezone) -> None:
    h = make(timer_process("naive", f"<bpmn:timeDate>'{NAIVE}'</bpmn:timeDate>"))
    with freeze_time(datetime(2030, 1, 1, tzinfo=UTC)):
        iid = h.start("naive").instance.id
        with h.db.transaction() as session:
            row = session.get(ProcessInstance, iid)
            assert row is not None
            row.next_timer_due = utcnow() - timedelta(minutes=1)
        assert h.sweep().woken == []


# -- 6. expressions cannot build huge values or nest too deep -------------------------------------

CHAIN = "+".join(["1"] * 900)
UNARY = "-" * 1990 + "1"


@pytest.mark.parametrize(
    "expression",
    ["'%*d' % (400000000, 1)", "str(['a'*99999]*99999)", CHAIN, UNARY],
    ids=["format", "str", "chain", "unary"],
)
def test_expression_building_huge_values_is_refused_at_evaluation(expression: str) -> None:
    with pytest.raises(ExpressionError):
        SafeEnvironment(host_functions()).evaluate(expression, {})


@pytest.mark.parametrize("expression", [CHAIN, UNARY], ids=["chain", "unary"])
def test_too_deep_expression_is_refused_at_deploy(expression: str) -> None:
    sources = timer_process("deep", f"<bpmn:timeDuration>{expression}</bpmn:timeDuration>")
    with pytest.raises(DeployError) as info:
        parse_bundle(sources, host_functions())
    assert isinstance(info.value.__cause__, ExpressionError)
    assert "timerEventDefinition" in info.value.message


# -- 7. bad data reaching a timer expression is a StepError, and nothing is written ---------------

TIMER_AFTER_FORM = process(
    "wait",
    lane("u") + '<bpmn:startEvent id="s"/>' + flow("f1", "s", "u") + '<bpmn:userTask id="u"/>' + flow("f2", "u", "t")
    + timer("t", '<bpmn:timeDuration>"P" + str(u["days"]) + "D"</bpmn:timeDuration>')
    + flow("f3", "t", "e") + '<bpmn:endEvent id="e"/>',
)  # fmt: skip


@pytest.mark.parametrize("form", [{"days": "1X"}, {}], ids=["invalid-duration", "missing-field"])
def test_bad_form_data_in_a_timer_expression_is_a_step_error(make: Maker, form: dict[str, Any]) -> None:
    from huiju.errors import StepError

    h = make(TIMER_AFTER_FORM)
    started = h.start("wait", context={"community_id": 1})
    iid, [ready] = started.instance.id, started.ready_tasks
    before = h.snapshot()
    with pytest.raises(StepError) as info, h.db.transaction() as session:
        h.engine.complete_task(session, ready.id, "officer", {"decision": "approve", **form})
    assert http_status(info.value) == 422
    assert f"#{iid}" in info.value.message
    assert h.snapshot() == before


@pytest.mark.parametrize(
    ("definition", "words"),
    [
        ("<bpmn:timeDuration>'P1X'</bpmn:timeDuration>", """'P1X' is not an ISO 8601 time such as "PT1H\""""),
        ("<bpmn:timeDate>1</bpmn:timeDate>", "'1' is not an ISO 8601 time"),
        ("<bpmn:timeDate>'tomorrow'</bpmn:timeDate>", "'tomorrow' is not an ISO 8601 time"),
    ],
    ids=["bad-duration", "number-date", "word-date"],
)
def test_a_timer_written_as_no_iso_time_is_refused_when_deployed(make: Maker, definition: str, words: str) -> None:
    from huiju.errors import DeployError

    with pytest.raises(DeployError) as info:
        make(timer_process("bad", definition))
    assert "intermediateCatchEvent 't' (line 4)" in info.value.message and words in info.value.message


def test_a_timer_too_long_for_any_calendar_at_start_is_a_step_error(make: Maker) -> None:
    from huiju.errors import StepError

    h = make(timer_process("bad", "<bpmn:timeDuration>'P999999999D'</bpmn:timeDuration>"))
    before = h.snapshot()
    with pytest.raises(StepError) as info:
        h.start("bad")
    assert isinstance(info.value, HuijuError) and http_status(info.value) == 422
    assert re.search(r"^process bad cannot start: \w+", info.value.message)
    assert h.snapshot() == before


# -- 8. a failed call inside a subprocess climbs to the subprocess's error boundary ---------------

SUBPROCESS = process(
    "sub",
    '<bpmn:startEvent id="s"/>' + flow("f1", "s", "sp")
    + '<bpmn:subProcess id="sp"><bpmn:startEvent id="ss"/>' + flow("g1", "ss", "svc") + service("svc")
    + flow("g2", "svc", "se") + '<bpmn:endEvent id="se"/></bpmn:subProcess>'
    + '<bpmn:boundaryEvent id="catch" attachedToRef="sp"><bpmn:errorEventDefinition errorRef="err"/>'
    + "</bpmn:boundaryEvent>" + flow("f2", "sp", "e") + '<bpmn:endEvent id="e"/>'
    + flow("f3", "catch", "e2") + '<bpmn:endEvent id="e2"/>',
    before=ERROR,
)  # fmt: skip


def test_failed_call_in_a_subprocess_is_caught_by_the_subprocess_boundary(make: Maker) -> None:
    h = make(SUBPROCESS, adapters=True)
    started = h.start("sub", {"idn": ZHANG_XIUYING})
    iid, [message] = started.instance.id, started.messages
    h.set_message(message.message_id, status=MessageStatus.DEAD, last_error="refused")
    settle_message(h.db, h.engine, message.message_id)

    assert h.instance(iid).status is InstanceStatus.COMPLETED
    assert "incident" not in h.kinds(iid)
    [failed] = [entry for i, entry in h.seen if i == iid and entry.kind == "service_failed"]
    assert failed.data.get("caught") is True
    assert h.message(message.message_id).settled_at is not None


# -- 9. attempts spent without an answer park the message as dead; the sweep settles it -----------


@pytest.mark.parametrize("boundary", [True, False], ids=["caught", "incident"])
def test_message_whose_attempts_are_spent_without_answer_becomes_dead(make: Maker, boundary: bool) -> None:
    h = make(service_process("call", boundary=boundary), adapters=True)
    with freeze_time(T0) as clock:
        started = h.start("call", {"idn": ZHANG_XIUYING})
        iid, mid = started.instance.id, started.messages[0].message_id
        first = delivery.claim(h.db, mid, lease_seconds=0.1)
        assert first is not None
        for attempt in range(2, first.settings.max_attempts + 1):  # each worker dies mid-call
            clock.tick(timedelta(minutes=5))
            claimed = delivery.claim(h.db, mid, lease_seconds=0.1)
            assert claimed is not None and claimed.attempt == attempt
        clock.tick(timedelta(minutes=5))

        assert delivery.claim(h.db, mid, lease_seconds=0.1) is None
        row = h.message(mid)
        assert (row.status, row.attempts) == (MessageStatus.DEAD, first.settings.max_attempts)
        assert row.locked_until is None and row.last_error

        report = h.sweep()
    assert report.sent == [] and report.settled == [mid]
    assert h.message(mid).settled_at is not None
    instance = h.instance(iid)
    if boundary:
        assert instance.status is InstanceStatus.COMPLETED
    else:
        assert instance.status is InstanceStatus.INCIDENT
    assert ("service_failed" if boundary else "incident") in h.kinds(iid)


# -- 10. deploy checks every expression-bearing element, lanes of manual tasks, DMN cells ---------


def test_manual_task_in_an_unknown_lane_is_refused_at_deploy() -> None:
    sources = process(
        "manual",
        lane("u", name="property_company") + '<bpmn:startEvent id="s"/>' + flow("f1", "s", "u")
        + '<bpmn:manualTask id="u"/>' + flow("f2", "u", "e") + '<bpmn:endEvent id="e"/>',
    )  # fmt: skip
    with pytest.raises(DeployError, match="property_company"):
        parse_bundle(sources, FUNCTIONS)


UNSAFE = '__import__("os")'
MULTI_USER = (
    lane("u") + '<bpmn:startEvent id="s"/>' + flow("f1", "s", "u") + '<bpmn:userTask id="u">{loop}</bpmn:userTask>'
    + flow("f2", "u", "e") + '<bpmn:endEvent id="e"/>'
)  # fmt: skip


@pytest.mark.parametrize(
    ("body", "element"),
    [
        (
            MULTI_USER.format(
                loop="<bpmn:multiInstanceLoopCharacteristics>"
                f"<bpmn:loopCardinality>{UNSAFE}</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>"
            ),
            "multiInstanceLoopCharacteristics",
        ),
        (
            MULTI_USER.format(
                loop="<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>3</bpmn:loopCardinality>"
                f"<bpmn:completionCondition>{UNSAFE}</bpmn:completionCondition>"
                "</bpmn:multiInstanceLoopCharacteristics>"
            ),
            "multiInstanceLoopCharacteristics",
        ),
        (
            '<bpmn:startEvent id="s"/>'
            + flow("f1", "s", "c")
            + '<bpmn:intermediateCatchEvent id="c"><bpmn:conditionalEventDefinition>'
            + f"<bpmn:condition>{UNSAFE}</bpmn:condition></bpmn:conditionalEventDefinition>"
            + "</bpmn:intermediateCatchEvent>"
            + flow("f2", "c", "e")
            + '<bpmn:endEvent id="e"/>',
            "conditionalEventDefinition",
        ),  # fmt: skip
    ],
    ids=["loopCardinality", "completionCondition", "condition"],
)
def test_unsafe_expression_in_remaining_elements_is_refused_at_deploy(body: str, element: str) -> None:
    with pytest.raises(DeployError) as info:
        parse_bundle(process("unsafe", body), FUNCTIONS)
    assert "__import__" in info.value.message
    assert element in info.value.message
    assert isinstance(info.value.__cause__, ExpressionError)


def test_dmn_cell_is_checked_as_spiffworkflow_composes_it() -> None:
    from workflows_bpmn.validation import dmn_cell_expression

    assert dmn_cell_expression('form["a"]', "< 60") == 'form["a"]< 60'
    assert dmn_cell_expression("x", '"A"') == '(x) == ("A")'
    assert dmn_cell_expression("x", "1 < ? < 5") == "1 < dmninputexpr < 5"
    assert dmn_cell_expression("x", '"why?"') == '(x) == ("why?")'  # not replaced inside quotes
    assert dmn_cell_expression("x", "or True") == "xor True"  # appended as is, no space


def test_dmn_cell_that_spiffworkflow_composes_into_nonsense_is_refused_at_deploy() -> None:
    shipped = read_sources([p for p in bundled_process_files() if p.name == "elderly_care_subsidy.bpmn"])
    dmn = "elderly_care_subsidy_tier.dmn"
    text = shipped[dmn]
    for old, new in (
        ('<text>form["disability"]</text>', "<text>disability</text>"),
        ('<inputEntry id="rule_3_in_2"><text>"severe"</text>', '<inputEntry id="rule_3_in_2"><text>or True</text>'),
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    with pytest.raises(DeployError) as info:
        parse_bundle({**shipped, dmn: text}, FUNCTIONS)  # SpiffWorkflow would evaluate 'disabilityor True'
    assert "rule_3_in_2" in info.value.message


# -- 11. SQLite read sessions do not take the write lock ------------------------------------------


def test_write_transaction_succeeds_while_a_read_session_is_open(make: Maker) -> None:
    h = make(timer_process("read", "<bpmn:timeDuration>'PT1H'</bpmn:timeDuration>"))
    iid = h.start("read").instance.id
    with h.db.sessions() as reader:
        instance = reader.get(ProcessInstance, iid)
        assert instance is not None and instance.status is InstanceStatus.RUNNING
        with h.db.transaction() as writer:
            row = writer.get(ProcessInstance, iid)
            assert row is not None
            row.next_timer_due = T0
    assert h.instance(iid).next_timer_due == T0
