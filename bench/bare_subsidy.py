"""Baseline: run the elderly-care subsidy process (居家养老服务补贴) on bare SpiffWorkflow 3.2, in memory.

No database, no outbox, no restricted evaluator: the stock ``PythonScriptEngine`` with a plain
``TaskDataEnvironment`` evaluates the expressions and ``call_service`` answers with canned replies.
The figure from ``run_many`` is the ceiling the host engine is compared against.

Usage: ``python bench/bare_subsidy.py [n]`` prints cases per second on the "approved" path.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.specs.event_definitions.message import CorrelationProperty
from SpiffWorkflow.spiff.parser import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.specs.event_definitions import ErrorEventDefinition, MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from workflows_bpmn.expressions import joined, upcoming

PROCESS_ID = "elderly_care_subsidy"
PROCESS_DIR = Path(__file__).resolve().parent.parent / "workflows_bpmn" / "processes"
BPMN_FILE = PROCESS_DIR / "elderly_care_subsidy.bpmn"
DMN_FILE = PROCESS_DIR / "elderly_care_subsidy_tier.dmn"

SERVICE_FAILED = "service_failed"

# The e-gov extranet's asynchronous decision (callback after the SubmitCase receipt).
EGOV_WAIT_TASK = "await_egov_decision"  # receive task that waits for it
EGOV_DECISION_MESSAGE = "egov_decision"  # bpmn:message name
EGOV_CORRELATION_KEY = "egov_case"  # bpmn:correlationKey name
EGOV_CORRELATION_PROPERTY = "case_number_key"  # bpmn:correlationProperty id
EGOV_DECISIONS = ("approved", "denied")
EGOV_PAYLOAD_KEYS = frozenset({"case_number", "receipt_number", "decision", "decided_by", "decided_at", "reason"})

PATHS = (
    "approved",
    "supplement_then_approved",
    "refused",
    "denied",
    "egov_denied",
    "ineligible",
    "identity_mismatch",
    "incident_close",
)


# ---------------------------------------------------------------- whitelisted expression helpers


def age_on(birth_date_iso: str, on_date_iso: str) -> int:
    """Age in whole years on a given date."""
    born = date.fromisoformat(birth_date_iso)
    on = date.fromisoformat(on_date_iso)
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def today() -> str:
    return date.today().isoformat()


def add_working_days(date_iso: str, n: int) -> str:
    """Baseline approximation: Monday to Friday only (the host uses the Chinese holiday calendar)."""
    day = date.fromisoformat(date_iso)
    left = int(n)
    while left > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day.isoformat()


def callback_wait(_what: str) -> str:
    """Baseline: the decision callback is awaited one calendar day before asking (the host: working days)."""
    return "P1D"


EXPRESSION_GLOBALS = {
    "age_on": age_on,
    "callback_wait": callback_wait,
    "today": today,
    "add_working_days": add_working_days,
    "upcoming": upcoming,
    "joined": joined,
    "str": str,
    "int": int,
    "len": len,
}


# ---------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    """What the canned government systems answer and what the people decide, for one path."""

    identity_match: bool = True
    birth_date: str = "1938-05-01"
    income_band: str = "subsistence"
    disability: str = "none"
    citizen_info_failures: int = 0  # how many citizen_info calls fail (after the host's retries)
    # (user task id, form) in the order the tasks come up
    steps: tuple[tuple[str, dict[str, Any]], ...] = ()


_ACCEPT = ("intake", {"decision": "accept", "by": "officer_wang"})
_APPROVE = ("street_review", {"decision": "approve", "by": "reviewer_li", "at": "2026-11-30T10:00:00+08:00"})
# Not a user task: the extranet's callback, delivered by ``drive`` while the case waits at EGOV_WAIT_TASK.
_EGOV_APPROVE = (
    EGOV_WAIT_TASK,
    {"decision": "approved", "decided_by": "egov_zhao", "decided_at": "2026-12-02T15:30:00+08:00", "reason": None},
)
_EGOV_DENY = (
    EGOV_WAIT_TASK,
    {
        "decision": "denied",
        "decided_by": "egov_zhao",
        "decided_at": "2026-12-02T15:30:00+08:00",
        "reason": "重复享受同类补贴",
    },
)

SCENARIOS: dict[str, Scenario] = {
    "approved": Scenario(steps=(_ACCEPT, _APPROVE, _EGOV_APPROVE)),
    "supplement_then_approved": Scenario(
        steps=(
            (
                "intake",
                {"decision": "supplement", "by": "officer_wang", "missing_materials": ["户口簿复印件", "银行卡复印件"]},
            ),
            ("supplement", {"decision": "submit", "by": "applicant", "materials": ["hukou_copy.pdf", "bank_card.pdf"]}),
            _ACCEPT,
            _APPROVE,
            _EGOV_APPROVE,
        )
    ),
    "refused": Scenario(steps=(("intake", {"decision": "refuse", "by": "officer_wang", "reason": "户籍不在本社区"}),)),
    "denied": Scenario(
        steps=(_ACCEPT, ("street_review", {"decision": "deny", "by": "reviewer_li", "reason": "家庭经济状况核对不符"}))
    ),
    "egov_denied": Scenario(steps=(_ACCEPT, _APPROVE, _EGOV_DENY)),
    "ineligible": Scenario(birth_date="1970-07-15", income_band="ordinary"),
    "identity_mismatch": Scenario(identity_match=False),
    "incident_close": Scenario(
        citizen_info_failures=10**9,
        steps=(("identity_incident", {"decision": "close", "by": "officer_wang", "reason": "系统长时间不可用"}),),
    ),
    # Not one of the benchmark paths: the first call fails, the officer retries, the case then goes through.
    "incident_retry_then_approved": Scenario(
        citizen_info_failures=1,
        steps=(("identity_incident", {"decision": "retry", "by": "officer_wang"}), _ACCEPT, _APPROVE, _EGOV_APPROVE),
    ),
}


def deadlines_from(now: datetime) -> dict[str, Any]:
    committed, statutory = (now + timedelta(days=14)).date(), (now + timedelta(days=28)).date()
    return {
        "committed_due": committed.isoformat(),
        "statutory_due": statutory.isoformat(),
        "remind_at": f"{committed - timedelta(days=1)}T09:00:00+08:00",
        "escalate_at": f"{committed}T17:30:00+08:00",
        "provisional": False,
    }


def initial_data(scenario: Scenario, case_number: str = "JJYL-2026-000001") -> dict[str, Any]:
    return {
        "case_number": case_number,
        "item_code": "ELDERLY_CARE_SUBSIDY",
        "submitted_on": "2026-03-02",
        "limits": {"supplement_wait": "P30D"},
        "item_name": "居家养老服务补贴",
        # The case's time limits as Huiju's clock hands them to the timers (see huiju.services.clock):
        # two weeks ahead, so that no reminder or escalation fires while a path runs.
        "deadlines": deadlines_from(datetime.now(UTC)),
        "officers": {"duty_phone": "13910500101", "street_duty_phone": "13910500100"},
        "applicant": {
            "id_number": "110101193805010012",
            "name": "张桂兰",
            "phone": "13800138000",
            "community_code": "110101001001",
        },
        "form": {
            "income_band": scenario.income_band,
            "disability": scenario.disability,
            "living_alone": True,
        },
    }


# ---------------------------------------------------------------- script engine with canned services


class ServiceFailed(RuntimeError):
    """A government system still failing after the host's retries, with nothing in the model to catch it."""


class CannedScriptEngine(PythonScriptEngine):
    """Stock evaluator plus the host's helper functions; service calls answered from memory.

    ``call_service`` is overridden as a whole: the library's version turns every exception into a
    ``NameError`` (its error branch refers to an undefined name).
    """

    def __init__(self, scenario: Scenario):
        super().__init__(environment=TaskDataEnvironment(dict(EXPRESSION_GLOBALS)))
        self.scenario = scenario
        self.failures_left = scenario.citizen_info_failures
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.receipts: dict[str, str] = {}  # case_number -> receipt_number issued by egov.submit_case
        self._serial = itertools.count(1)

    def call_service(self, task, operation_name, operation_params, **kwargs):
        params = {name: spec["value"] for name, spec in operation_params.items()}
        self.calls.append((operation_name, params))
        if operation_name.startswith("citizen_info.") and self.failures_left > 0:
            self.failures_left -= 1
            throw_service_failed(task, operation_name, "公民信息库接口重试后仍不可用")
            # The task itself still completes (an interrupting boundary event has already been
            # triggered and cancels the path after it); what it stores is never read.
            return "null"
        reply = getattr(self, "_" + operation_name.replace(".", "_"))(params)
        return json.dumps(reply, ensure_ascii=False)

    def _citizen_info_verify_identity(self, params):
        if self.scenario.identity_match:
            return {"match": True, "reason": None}
        return {"match": False, "reason": "姓名与公民身份号码不一致"}

    def _citizen_info_query_person(self, params):
        return {
            "id_number": params["id_number"],
            "name": "张桂兰",
            "gender": "female",
            "birth_date": self.scenario.birth_date,
            "registered_address": "北京市东城区东华门街道多福巷1号",
            "household": [{"relation": "户主", "name": "张桂兰"}],
        }

    def _sms_send_sms(self, params):
        return {"sms_id": f"SMS{next(self._serial):08d}", "accepted": True}

    def _egov_submit_case(self, params):
        receipt_number = f"ZW{next(self._serial):010d}"
        self.receipts[params["case_number"]] = receipt_number
        return {"receipt_number": receipt_number, "received_at": today() + "T10:00:00+08:00"}

    def egov_decision_payload(self, case_number: str, decision: dict[str, Any]) -> dict[str, Any]:
        """The callback the canned extranet sends later for a case it gave a receipt for."""
        return {"case_number": case_number, "receipt_number": self.receipts[case_number], **decision}

    def _data_exchange_publish_record(self, params):
        return {"record_id": f"REC-{params['dataset']}-{next(self._serial)}"}


def throw_service_failed(task, operation_name: str, message: str) -> None:
    """Raise the BPMN error ``service_failed`` at a running service task.

    The event must use the *spiff* ``ErrorEventDefinition`` (the parser built the boundary events with
    it; the plain bpmn class does not compare equal). Only the boundary events attached to this task
    (siblings under its BoundaryEventSplit, waiting) are asked; if none catches, a Python exception is
    raised instead so that the error cannot vanish.
    """
    event = BpmnEvent(
        ErrorEventDefinition(SERVICE_FAILED, code=SERVICE_FAILED),
        payload={"operation": operation_name, "message": message},
    )
    catchers = [
        sibling for sibling in task.parent.children if sibling is not task and sibling.task_spec.catches(sibling, event)
    ]
    if not catchers:
        raise ServiceFailed(f"{operation_name}: {message}")
    task.workflow.top_workflow.catch(event)


# ---------------------------------------------------------------- asynchronous e-gov decision


def egov_decision_correlations(case_number: str) -> dict[str, dict[str, str]]:
    """Correlations of an ``egov_decision`` message, in the library's shape {key name: {property id: value}}."""
    return {EGOV_CORRELATION_KEY: {EGOV_CORRELATION_PROPERTY: case_number}}


def deliver_egov_decision(workflow: BpmnWorkflow, payload: dict) -> None:
    """Deliver the extranet's decision callback to a case waiting at ``await_egov_decision``, then advance.

    The event must use the *spiff* ``MessageEventDefinition`` (the parser built the receive task with it;
    events compare by class and message name). ``send_event`` raises ``WorkflowException`` ("This process is
    not waiting for egov_decision") when nothing waits for the message or the correlation differs from the
    case's; the workflow is then left unchanged. The correlations are computed from the payload itself so
    that a callback cannot claim one case number in its correlations and carry another.
    """
    missing = EGOV_PAYLOAD_KEYS - payload.keys()
    if missing:
        raise ValueError(f"egov_decision payload lacks {sorted(missing)}")
    if payload["decision"] not in EGOV_DECISIONS:
        raise ValueError(f"egov_decision: unknown decision {payload['decision']!r}")
    definition = MessageEventDefinition(
        EGOV_DECISION_MESSAGE,
        correlation_properties=[CorrelationProperty(EGOV_CORRELATION_PROPERTY, "case_number", [EGOV_CORRELATION_KEY])],
    )
    event = BpmnEvent(definition, dict(payload), egov_decision_correlations(str(payload["case_number"])))
    workflow.send_event(event)
    workflow.do_engine_steps()


def waiting_messages(workflow: BpmnWorkflow) -> list[tuple[str, dict[str, dict[str, Any]]]]:
    """(message name, correlations) for every message the instance waits for: what a host indexes.

    ``waiting_events()`` gives one ``PendingBpmnEvent`` per waiting catch task; for a message its
    ``correlations`` is the whole (live) ``workflow.correlations`` dict, so it is narrowed to the keys of
    the message's own correlation properties (``value``) and copied.
    """
    result = []
    for pending in workflow.waiting_events():
        if pending.event_type != "MessageEventDefinition":
            continue
        keys = {key for prop in pending.value for key in prop.correlation_keys}
        correlations = {key: dict(pending.correlations[key]) for key in sorted(keys) if key in pending.correlations}
        result.append((pending.name, correlations))
    return result


# ---------------------------------------------------------------- driving a case


_spec_cache: tuple[Any, dict] | None = None


def load_specs():
    """Parse the BPMN and DMN once; returns (spec, subprocess_specs)."""
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_files([str(BPMN_FILE)])
    parser.add_dmn_files([str(DMN_FILE)])
    return parser.get_spec(PROCESS_ID), parser.get_subprocess_specs(PROCESS_ID)


def _cached_specs():
    global _spec_cache
    if _spec_cache is None:
        _spec_cache = load_specs()
    return _spec_cache


@dataclass
class CaseRun:
    outcome: str | None
    workflow: BpmnWorkflow
    engine: CannedScriptEngine
    wait_states: list[str] = field(default_factory=list)


def start_case(
    spec,
    subprocess_specs,
    path: str,
    case_number: str = "JJYL-2026-000001",
    scenario: Scenario | None = None,
):
    """Create the workflow, give the start task its data and run to the first wait state.

    ``scenario`` overrides the canned answers of ``path`` (used to try other applicants)."""
    scenario = scenario or SCENARIOS[path]
    engine = CannedScriptEngine(scenario)
    wf = BpmnWorkflow(spec, subprocess_specs, script_engine=engine)
    start = wf.get_next_task(state=TaskState.READY)
    start.data.update(initial_data(scenario, case_number))
    wf.do_engine_steps()
    return wf, engine


def ready_user_tasks(wf: BpmnWorkflow):
    return wf.get_tasks(state=TaskState.READY, manual=True)


def complete_user_task(wf: BpmnWorkflow, task, form: dict[str, Any]) -> None:
    """What the host does with a submitted form: store it under the task's id, run, advance."""
    task.data[task.task_spec.bpmn_id] = dict(form)
    task.run()
    wf.do_engine_steps()


def outcome_of(wf: BpmnWorkflow) -> str | None:
    """The ``outcome`` property of the end event the case reached (None while it runs)."""
    for task in wf.get_tasks(state=TaskState.COMPLETED):
        extensions = getattr(task.task_spec, "extensions", None) or {}
        outcome = extensions.get("properties", {}).get("outcome")
        if outcome is not None:
            return outcome
    return None


def drive(
    spec,
    subprocess_specs,
    path: str,
    wait_hook: Callable[[BpmnWorkflow], BpmnWorkflow] | None = None,
    case_number: str = "JJYL-2026-000001",
) -> CaseRun:
    """Run one case along ``path``. ``wait_hook`` is called at every wait state (user task or e-gov
    callback) and may return a new workflow object (e.g. one restored from JSON)."""
    wf, engine = start_case(spec, subprocess_specs, path, case_number)
    waits: list[str] = []
    for expected, form in SCENARIOS[path].steps:
        if wait_hook is not None:
            wf = wait_hook(wf)
        if expected == EGOV_WAIT_TASK:
            waiting = waiting_messages(wf)
            if waiting != [(EGOV_DECISION_MESSAGE, egov_decision_correlations(case_number))]:
                raise AssertionError(f"path {path!r}: expected to wait for the e-gov decision, waiting: {waiting}")
            waits.append(expected)
            deliver_egov_decision(wf, engine.egov_decision_payload(case_number, form))
            continue
        ready = ready_user_tasks(wf)
        if len(ready) != 1 or ready[0].task_spec.bpmn_id != expected:
            names = [t.task_spec.bpmn_id for t in ready]
            raise AssertionError(f"path {path!r}: expected user task {expected!r}, ready: {names}")
        waits.append(expected)
        complete_user_task(wf, ready[0], form)
    if not wf.is_completed():
        names = [t.task_spec.bpmn_id for t in ready_user_tasks(wf)]
        raise AssertionError(f"path {path!r}: case still waiting at {names}")
    return CaseRun(outcome_of(wf), wf, engine, waits)


def run_case(spec, subprocess_specs, path: str) -> str:
    """Run one case along ``path`` and return the outcome of the end event reached."""
    outcome = drive(spec, subprocess_specs, path).outcome
    if outcome is None:
        raise AssertionError(f"path {path!r} finished without an outcome")
    return outcome


def run_many(n: int) -> float:
    """Cases per second on the "approved" path, the spec parsed once (parsing not timed)."""
    spec, subprocess_specs = _cached_specs()
    began = time.perf_counter()
    for i in range(n):
        case_run = drive(spec, subprocess_specs, "approved", case_number=f"JJYL-2026-{i:06d}")
        if case_run.outcome != "approved":
            raise AssertionError(f"case {i} ended {case_run.outcome!r}")
    elapsed = time.perf_counter() - began
    return n / elapsed if elapsed > 0 else float("inf")


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    run_many(20)  # warm up
    print(f"bare SpiffWorkflow, {PROCESS_ID} approved path: {run_many(count):.0f} cases/s")
