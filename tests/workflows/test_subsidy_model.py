"""The elderly-care subsidy model (居家养老服务补贴), run on bare SpiffWorkflow by bench/bare_subsidy.py."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG
from SpiffWorkflow.spiff.specs.defaults import ReceiveTask
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

REPO = Path(__file__).resolve().parents[2]
from bench import bare_subsidy  # noqa: E402

BPMN_NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
}
DMN_NS = {"dmn": "https://www.omg.org/spec/DMN/20191111/MODEL/"}


@pytest.fixture(scope="module")
def specs():
    return bare_subsidy.load_specs()


# ---------------------------------------------------------------- structure and conventions


def test_user_task_and_end_event_extensions(specs):
    spec, subprocess_specs = specs
    assert subprocess_specs == {}
    assert spec.name == "elderly_care_subsidy"
    ts = spec.task_specs
    assert ts["intake"].lane == "community_officer"
    assert ts["intake"].extensions == {
        "properties": {
            "case_status": "intake",
            "decisions": "accept,refuse,supplement",
            "return_target": "true",
            "name_en": "Community intake",
        }
    }
    assert ts["supplement"].lane == "applicant"
    assert ts["supplement"].extensions == {
        "properties": {
            "case_status": "awaiting_supplement",
            "decisions": "submit",
            "pauses_clock": "true",
            "name_en": "Supplement materials",
        }
    }
    assert ts["street_review"].lane == "street_reviewer"
    assert ts["street_review"].extensions["properties"] == {
        "case_status": "street_review",
        "decisions": "approve,deny,return",
        "return_target": "true",
        "name_en": "Street review",
    }
    for step in ("intake", "street_review"):  # reminder before the limit, escalation to the street after it
        assert ts[f"supervise_{step}"].lane == "street_reviewer"
        shown = {"intake": "Escalation: community intake", "street_review": "Escalation: street review"}[step]
        assert ts[f"supervise_{step}"].extensions["properties"] == {
            "decisions": "done",
            "supervision": "true",
            "name_en": shown,
        }
    assert ts["identity_incident"].lane == "community_officer"
    assert ts["identity_incident"].extensions["properties"] == {
        "case_status": "incident",
        "decisions": "retry,close",
        "name_en": "Handle verification fault",
    }
    outcomes = {
        name: t.extensions["properties"]["outcome"]
        for name, t in ts.items()
        if name.startswith("end_") and "outcome" in t.extensions.get("properties", {})
    }
    assert outcomes == {
        "end_approved": "approved",
        "end_refused": "refused",
        "end_denied": "denied",
        "end_denied_by_egov": "denied",
        "end_ineligible": "ineligible",
        "end_identity_mismatch": "identity_mismatch",
        "end_closed": "closed",
        "end_supplement_expired": "supplement_expired",
    }
    assert ts["sms_received"].lane == "system"
    assert [t.name for t in ts["sms_received"].inputs] == ["start"]  # the receipt SMS (受理回执) comes first
    assert [t.name for t in ts["sms_received"].outputs] == ["verify_identity.BoundaryEventSplit"]
    assert ts["verify_identity"].lane == "system"
    assert ts["determine_tier"].extensions["calledDecisionId"] == "subsidy_tier"


def test_egov_decision_receive_task(specs):
    spec, _ = specs
    await_task = spec.task_specs["await_egov_decision"]
    assert isinstance(await_task, ReceiveTask)
    assert await_task.lane == "system"
    assert not await_task.manual
    assert await_task.bpmn_name == "等待政务外网审批结果"
    # the reconciliation timer (timer_query_egov) is a boundary event of the wait
    assert [t.name for t in await_task.inputs] == ["await_egov_decision.BoundaryEventSplit"]
    assert [t.name for t in await_task.outputs] == ["await_egov_decision.BoundaryEventJoin", "gw_egov_decision"]
    split = spec.task_specs["await_egov_decision.BoundaryEventSplit"]
    assert sorted(t.name for t in split.inputs) == ["err_query_egov", "gw_egov_queried", "report_to_egov"]
    definition = await_task.event_definition
    assert isinstance(definition, MessageEventDefinition)
    assert definition.name == "egov_decision"
    assert definition.message_var == "egov_decision"
    assert definition.expression is None
    # one property, read from the payload (correlation_properties) and from the process data (process_correlations)
    for props in (definition.correlation_properties, definition.process_correlations):
        assert [vars(p) for p in props] == [
            {"name": "case_number_key", "retrieval_expression": "case_number", "correlation_keys": ["egov_case"]}
        ]
    assert spec.task_specs["sms_egov_denied"].lane == "system"
    assert spec.task_specs["end_denied_by_egov"].lane == "system"


def test_gateway_flows_have_conditions_except_default():
    doc = etree.parse(str(bare_subsidy.BPMN_FILE))
    gateways = doc.xpath("//bpmn:exclusiveGateway", namespaces=BPMN_NS)
    assert len(gateways) == 7
    for gw in gateways:
        default = gw.get("default")
        assert default, gw.get("id")
        flows = doc.xpath(f"//bpmn:sequenceFlow[@sourceRef='{gw.get('id')}']", namespaces=BPMN_NS)
        assert len(flows) >= 2
        for flow in flows:
            has_condition = flow.find("bpmn:conditionExpression", BPMN_NS) is not None
            assert has_condition == (flow.get("id") != default), flow.get("id")


def test_every_element_has_diagram_shape_or_edge():
    doc = etree.parse(str(bare_subsidy.BPMN_FILE))
    process = doc.xpath("//bpmn:process", namespaces=BPMN_NS)[0]
    ids = {el.get("id") for el in process if el.get("id") and not el.tag.endswith("laneSet")}
    ids |= set(process.xpath("bpmn:laneSet/bpmn:lane/@id", namespaces=BPMN_NS))
    assert len(ids) > 50
    drawn = set(doc.xpath("//bpmndi:BPMNShape/@bpmnElement | //bpmndi:BPMNEdge/@bpmnElement", namespaces=BPMN_NS))
    assert ids - drawn == set()
    user_tasks = doc.xpath("//bpmn:userTask/@id", namespaces=BPMN_NS)
    laned = set(doc.xpath("//bpmn:flowNodeRef/text()", namespaces=BPMN_NS))
    assert set(user_tasks) <= laned
    assert set(doc.xpath("//bpmn:receiveTask/@id", namespaces=BPMN_NS)) <= laned


def _bounds(doc, element_id):
    (bounds,) = doc.xpath(f"//bpmndi:BPMNShape[@bpmnElement='{element_id}']/dc:Bounds", namespaces=BPMN_NS)
    return tuple(float(bounds.get(k)) for k in ("x", "y", "width", "height"))


@pytest.mark.parametrize(
    "new",
    [
        ["await_egov_decision", "gw_egov_decision", "sms_egov_denied", "end_denied_by_egov"],
        ["sms_received"],  # the receipt SMS (受理回执) before identity verification
        ["query_egov", "gw_egov_queried"],  # reconciliation: asking the extranet when its decision is late
    ],
)
def test_system_elements_are_drawn_inside_the_system_lane_without_overlap(new):
    doc = etree.parse(str(bare_subsidy.BPMN_FILE))
    lane_x, lane_y, lane_w, lane_h = _bounds(doc, "system")
    system_nodes = doc.xpath("//bpmn:lane[@id='system']/bpmn:flowNodeRef/text()", namespaces=BPMN_NS)
    assert set(new) <= set(system_nodes)
    boxes = {node: _bounds(doc, node) for node in system_nodes}
    for node in new:
        x, y, w, h = boxes[node]
        assert lane_x <= x and x + w <= lane_x + lane_w and lane_y <= y and y + h <= lane_y + lane_h, node
        for other, (ox, oy, ow, oh) in boxes.items():
            if other != node and not other.startswith(("err_", "timer_")):  # boundary events sit on a border
                assert x + w <= ox or ox + ow <= x or y + h <= oy or oy + oh <= y, (node, other)
    (participant,) = doc.xpath(
        "//bpmndi:BPMNShape[@bpmnElement='participant_elderly_care_subsidy']/dc:Bounds", namespaces=BPMN_NS
    )
    right_edge = float(participant.get("x")) + float(participant.get("width"))
    assert all(x + w <= right_edge for x, _y, w, _h in boxes.values())


# Expression subset the host's evaluator accepts.
_ALLOWED_NODES = (
    ast.Expression,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.Subscript,
    ast.Compare,
    ast.BoolOp,
    ast.UnaryOp,
    ast.BinOp,
    ast.Dict,
    ast.List,
    ast.Call,
    ast.And,
    ast.Or,
    ast.Not,
    ast.USub,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
)
_FUNCTIONS = {"age_on", "today", "add_working_days", "upcoming", "joined", "str", "int", "len", "callback_wait"}


def _check_expression(expr: str) -> None:
    tree = ast.parse(expr, mode="eval")
    for node in ast.walk(tree):
        assert isinstance(node, _ALLOWED_NODES), (expr, type(node).__name__)
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS, expr
            assert not node.keywords, expr


def _all_expressions() -> list[str]:
    bpmn = etree.parse(str(bare_subsidy.BPMN_FILE))
    timed_or_conditional = bpmn.xpath("//bpmn:conditionExpression | //bpmn:timeDuration", namespaces=BPMN_NS)
    exprs = [e.text for e in timed_or_conditional]
    exprs += bpmn.xpath("//spiffworkflow:parameter/@value", namespaces=BPMN_NS)
    # correlation retrieval: from the message payload and from the process data
    correlation_exprs = bpmn.xpath(
        "//bpmn:correlationPropertyRetrievalExpression/*/text()"
        " | //spiffworkflow:processVariableCorrelation/spiffworkflow:expression/text()",
        namespaces=BPMN_NS,
    )
    assert correlation_exprs == ["case_number", "case_number"]
    exprs += correlation_exprs
    assert not bpmn.xpath(
        "//bpmn:scriptTask | //spiffworkflow:preScript | //spiffworkflow:postScript", namespaces=BPMN_NS
    )
    dmn = etree.parse(str(bare_subsidy.DMN_FILE))
    inputs = [t.text for t in dmn.xpath("//dmn:inputExpression/dmn:text", namespaces=DMN_NS)]
    exprs += inputs
    for rule in dmn.xpath("//dmn:rule", namespaces=DMN_NS):
        cells = [t.text for t in rule.xpath("dmn:inputEntry/dmn:text", namespaces=DMN_NS)]
        for input_expr, cell in zip(inputs, cells, strict=True):
            if cell != "-":
                # Spiff either appends the cell ("x >= 60") or compares ("(x) == (cell)")
                starts_with_operator = cell.lstrip()[:1] in "<>=!"
                exprs.append(f"{input_expr}{cell}" if starts_with_operator else f"({input_expr}) == ({cell})")
        exprs += [t.text for t in rule.xpath("dmn:outputEntry/dmn:text", namespaces=DMN_NS)]
    return exprs


def test_expressions_stay_in_the_restricted_subset():
    exprs = _all_expressions()
    assert len(exprs) > 40
    for expr in exprs:
        _check_expression(expr)


# ---------------------------------------------------------------- paths

# Every case opens with the acknowledgement SMS (受理回执) before identity verification.
RECEIVED = "sms.send_sms:CASE_RECEIVED"
EXPECTED_CALLS = {
    "approved": [
        RECEIVED,
        "citizen_info.verify_identity",
        "citizen_info.query_person",
        "egov.submit_case",
        "sms.send_sms:SUBSIDY_APPROVED",
        "data_exchange.publish_record",
    ],
    "supplement_then_approved": [
        RECEIVED,
        "citizen_info.verify_identity",
        "citizen_info.query_person",
        "sms.send_sms:SUPPLEMENT_REQUESTED",
        "egov.submit_case",
        "sms.send_sms:SUBSIDY_APPROVED",
        "data_exchange.publish_record",
    ],
    "refused": [RECEIVED, "citizen_info.verify_identity", "citizen_info.query_person", "sms.send_sms:CASE_REFUSED"],
    "denied": [RECEIVED, "citizen_info.verify_identity", "citizen_info.query_person", "sms.send_sms:SUBSIDY_DENIED"],
    "egov_denied": [
        RECEIVED,
        "citizen_info.verify_identity",
        "citizen_info.query_person",
        "egov.submit_case",
        "sms.send_sms:SUBSIDY_DENIED",
    ],
    "ineligible": [
        RECEIVED,
        "citizen_info.verify_identity",
        "citizen_info.query_person",
        "sms.send_sms:SUBSIDY_INELIGIBLE",
    ],
    "identity_mismatch": [RECEIVED, "citizen_info.verify_identity", "sms.send_sms:IDENTITY_MISMATCH"],
    "incident_close": [RECEIVED, "citizen_info.verify_identity"],
}
EXPECTED_OUTCOME = {
    "approved": "approved",
    "supplement_then_approved": "approved",
    "refused": "refused",
    "denied": "denied",
    "egov_denied": "denied",
    "ineligible": "ineligible",
    "identity_mismatch": "identity_mismatch",
    "incident_close": "closed",
}


def _call_names(engine):
    return [f"{op}:{params['template']}" if op == "sms.send_sms" else op for op, params in engine.calls]


@pytest.mark.parametrize("path", bare_subsidy.PATHS)
def test_run_case_outcome(specs, path):
    assert bare_subsidy.run_case(*specs, path) == EXPECTED_OUTCOME[path]


@pytest.mark.parametrize("path", bare_subsidy.PATHS)
def test_path_calls_and_data(specs, path):
    run = bare_subsidy.drive(*specs, path)
    assert run.workflow.is_completed()
    assert _call_names(run.engine) == EXPECTED_CALLS[path]
    data = run.workflow.data
    if path in ("approved", "supplement_then_approved", "refused", "denied", "egov_denied"):
        # born 1938-05-01, 低保, submitted 2026-03-02: 87 years old -> tier A, 600
        assert data["eligibility"] == {"eligible": True, "tier": "A", "monthly_amount": 600}
        assert data["person"]["birth_date"] == "1938-05-01"


def test_approved_service_parameters(specs):
    run = bare_subsidy.drive(*specs, "approved")
    # The first call: the receipt SMS to the applicant's phone, naming the case and the item.
    assert run.engine.calls[0] == (
        "sms.send_sms",
        {
            "phone": "13800138000",
            "template": "CASE_RECEIVED",
            "params": {"case_number": "JJYL-2026-000001", "item": "居家养老服务补贴"},
        },
    )
    calls = dict(run.engine.calls)  # the last call of each operation
    egov = calls["egov.submit_case"]
    assert egov["case_number"] == "JJYL-2026-000001"
    assert egov["decision"] == "approved"
    assert egov["decided_by"] == "reviewer_li"
    assert egov["applicant_id_number"] == "110101193805010012"
    assert "A" in egov["summary"] and "600" in egov["summary"]
    assert all(isinstance(v, str) for v in egov.values())
    sms = calls["sms.send_sms"]
    assert sms == {
        "phone": "13800138000",
        "template": "SUBSIDY_APPROVED",
        "params": {"case_number": "JJYL-2026-000001", "tier": "A", "amount": "600"},
    }
    record = calls["data_exchange.publish_record"]
    assert record["dataset"] == "elderly_care_subsidy"
    assert {k: v for k, v in record["record"].items() if k != "granted_on"} == {
        "case_number": "JJYL-2026-000001",
        "id_number": "110101193805010012",
        "tier": "A",
        "monthly_amount": "600",
    }
    assert all(isinstance(v, str) for v in record["record"].values())
    data = run.workflow.data
    assert data["egov_receipt"]["receipt_number"].startswith("ZW")
    assert data["street_review"] == {"decision": "approve", "by": "reviewer_li", "at": "2026-11-30T10:00:00+08:00"}
    assert data["egov_decision"] == {
        "case_number": "JJYL-2026-000001",
        "receipt_number": data["egov_receipt"]["receipt_number"],
        "decision": "approved",
        "decided_by": "egov_zhao",
        "decided_at": "2026-12-02T15:30:00+08:00",
        "reason": None,
    }
    assert run.wait_states == ["intake", "street_review", "await_egov_decision"]
    assert _completed_ids(run.workflow)[-5:] == [
        "await_egov_decision",
        "gw_egov_decision",
        "notify_applicant",
        "publish_subsidy",
        "end_approved",
    ]


def test_supplement_and_refusal_sms_params(specs):
    run = bare_subsidy.drive(*specs, "supplement_then_approved")
    supplement_sms = [p for op, p in run.engine.calls if p.get("template") == "SUPPLEMENT_REQUESTED"][0]
    assert supplement_sms["params"] == {
        "case_number": "JJYL-2026-000001",
        "missing_materials": "户口簿复印件、银行卡复印件",  # joined() for the SMS text
    }
    assert run.wait_states == ["intake", "supplement", "intake", "street_review", "await_egov_decision"]
    assert run.workflow.data["supplement"]["materials"] == ["hukou_copy.pdf", "bank_card.pdf"]
    refused = bare_subsidy.drive(*specs, "refused")
    refusal = [p for op, p in refused.engine.calls if p.get("template") == "CASE_REFUSED"][0]
    assert refusal["params"] == {"case_number": "JJYL-2026-000001", "reason": "户籍不在本社区"}


def test_1970_born_applicant_is_ineligible(specs):
    run = bare_subsidy.drive(*specs, "ineligible")
    assert run.outcome == "ineligible"
    assert run.workflow.data["eligibility"] == {"eligible": False, "tier": "none", "monthly_amount": 0}


@pytest.mark.parametrize(
    ("birth_date", "income_band", "disability", "expected"),
    [
        ("1938-05-01", "subsistence", "none", (True, "A", 600)),
        ("1966-03-02", "subsistence", "none", (True, "A", 600)),  # 60th birthday on the day of submission
        ("1966-03-03", "subsistence", "severe", (False, "none", 0)),  # one day short of 60
        ("1960-01-01", "low_income", "severe", (True, "A", 600)),
        ("1960-01-01", "low_income", "moderate", (True, "B", 400)),
        ("1960-01-01", "ordinary", "severe", (True, "B", 400)),
        ("1960-01-01", "ordinary", "moderate", (False, "none", 0)),
        ("1946-03-02", "ordinary", "none", (True, "C", 200)),  # 80 on the day
        ("1946-03-03", "ordinary", "none", (False, "none", 0)),  # 79
        ("1970-07-15", "ordinary", "severe", (False, "none", 0)),
    ],
)
def test_tier_table(specs, birth_date, income_band, disability, expected):
    scenario = bare_subsidy.Scenario(birth_date=birth_date, income_band=income_band, disability=disability)
    wf, _engine = bare_subsidy.start_case(*specs, "approved", scenario=scenario)
    completed = wf.get_tasks(state=TaskState.COMPLETED)
    tier_task = [t for t in completed if t.task_spec.name == "determine_tier"][0]
    eligible, tier, amount = expected
    assert tier_task.data["eligibility"] == {"eligible": eligible, "tier": tier, "monthly_amount": amount}
    ready = [t.task_spec.bpmn_id for t in bare_subsidy.ready_user_tasks(wf)]
    if eligible:
        assert ready == ["intake"]
    else:
        assert wf.is_completed() and bare_subsidy.outcome_of(wf) == "ineligible"


def test_incident_error_payload_and_retry(specs):
    wf, engine = bare_subsidy.start_case(*specs, "incident_close")
    (incident,) = bare_subsidy.ready_user_tasks(wf)
    assert incident.task_spec.bpmn_id == "identity_incident"
    assert incident.data["service_error"] == {
        "operation": "citizen_info.verify_identity",
        "message": "公民信息库接口重试后仍不可用",
    }
    assert "identity_check" not in incident.data
    # the interrupting boundary cancelled the normal path
    assert not [
        t
        for t in wf.get_tasks(state=TaskState.READY | TaskState.COMPLETED)
        if t.task_spec.name in ("gw_identity", "query_person")
    ]

    run = bare_subsidy.drive(*specs, "incident_retry_then_approved")
    assert run.outcome == "approved"
    assert run.wait_states == ["identity_incident", "intake", "street_review", "await_egov_decision"]
    assert _call_names(run.engine)[:4] == [
        RECEIVED,
        "citizen_info.verify_identity",
        "citizen_info.verify_identity",
        "citizen_info.query_person",
    ]


def test_query_person_failure_is_caught_too(specs):
    class FailQueryPerson(bare_subsidy.CannedScriptEngine):
        def call_service(self, task, operation_name, operation_params, **kwargs):
            self.failures_left = 1 if operation_name == "citizen_info.query_person" else 0
            return super().call_service(task, operation_name, operation_params, **kwargs)

    spec, subprocess_specs = specs
    scenario = bare_subsidy.Scenario()
    wf = BpmnWorkflow(spec, subprocess_specs, script_engine=FailQueryPerson(scenario))
    wf.get_next_task(state=TaskState.READY).data.update(bare_subsidy.initial_data(scenario))
    wf.do_engine_steps()
    (incident,) = bare_subsidy.ready_user_tasks(wf)
    assert incident.task_spec.bpmn_id == "identity_incident"
    assert incident.data["service_error"]["operation"] == "citizen_info.query_person"
    assert incident.data["identity_check"] == {"match": True, "reason": None}
    assert "person" not in incident.data


def test_uncaught_service_failure_raises(specs):
    """Outside a task with a service_failed boundary event the error is not swallowed."""
    wf, _engine = bare_subsidy.start_case(*specs, "approved")
    (intake,) = bare_subsidy.ready_user_tasks(wf)
    with pytest.raises(bare_subsidy.ServiceFailed):
        bare_subsidy.throw_service_failed(intake, "sms.send_sms", "down")


# ---------------------------------------------------------------- the e-gov decision callback

CASE = "JJYL-2026-000001"


def _completed_ids(wf):
    return [t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.COMPLETED) if t.task_spec.bpmn_id]


def _waiting_for_egov(specs, case_number=CASE):
    """A case that the street approved and the extranet acknowledged: it now waits for the callback."""
    wf, engine = bare_subsidy.start_case(*specs, "approved", case_number=case_number)
    for _task_id, form in (bare_subsidy._ACCEPT, bare_subsidy._APPROVE):
        (task,) = bare_subsidy.ready_user_tasks(wf)
        bare_subsidy.complete_user_task(wf, task, form)
    return wf, engine


def _decision(engine, decision="approved", reason=None, case_number=CASE):
    return engine.egov_decision_payload(
        case_number,
        {"decision": decision, "decided_by": "egov_zhao", "decided_at": "2026-12-02T15:30:00+08:00", "reason": reason},
    )


def test_egov_denied_path(specs):
    run = bare_subsidy.drive(*specs, "egov_denied")
    assert run.outcome == "denied"
    assert run.wait_states == ["intake", "street_review", "await_egov_decision"]
    assert _completed_ids(run.workflow)[-4:] == [
        "await_egov_decision",
        "gw_egov_decision",
        "sms_egov_denied",
        "end_denied_by_egov",
    ]
    calls = dict(run.engine.calls)
    assert calls["sms.send_sms"] == {
        "phone": "13800138000",
        "template": "SUBSIDY_DENIED",
        "params": {"case_number": CASE, "reason": "重复享受同类补贴"},
    }
    assert "data_exchange.publish_record" not in calls
    data = run.workflow.data
    assert data["egov_decision"]["decision"] == "denied"
    assert data["egov_decision"]["receipt_number"] == data["egov_receipt"]["receipt_number"]
    assert "sms_approved" not in data and "published_record" not in data


def test_waiting_events_shape(specs):
    wf, engine = _waiting_for_egov(specs)
    assert bare_subsidy.ready_user_tasks(wf) == []
    waiting_task, timer = wf.get_tasks(state=TaskState.WAITING)
    assert waiting_task.task_spec.bpmn_id == "await_egov_decision"
    assert timer.task_spec.bpmn_id == "timer_query_egov"  # reconciliation: ask when the decision is late
    assert waiting_task.data["egov_receipt"]["receipt_number"] == engine.receipts[CASE]
    pending, waiting_timer = sorted(wf.waiting_events(), key=lambda p: p.event_type != "MessageEventDefinition")
    assert waiting_timer.event_type == "DurationTimerEventDefinition"
    assert pending.name == "egov_decision"
    assert pending.event_type == "MessageEventDefinition"
    assert pending.correlations == {"egov_case": {"case_number_key": CASE}}
    assert pending.correlations is wf.correlations  # the live dict of the whole workflow: copy before storing
    assert [vars(p) for p in pending.value] == [
        {"name": "case_number_key", "retrieval_expression": "case_number", "correlation_keys": ["egov_case"]}
    ]
    assert bare_subsidy.waiting_messages(wf) == [("egov_decision", {"egov_case": {"case_number_key": CASE}})]
    # while the case waits for a person, only the timers of its time limit wait: no message to index
    other, _ = bare_subsidy.start_case(*specs, "approved")
    assert {p.event_type for p in other.waiting_events()} == {"TimeDateEventDefinition"}
    assert bare_subsidy.waiting_messages(other) == []


def test_callback_with_wrong_case_number_is_refused_and_changes_nothing(specs):
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(DEFAULT_CONFIG))
    wf, engine = _waiting_for_egov(specs)
    before = serializer.serialize_json(wf)
    wrong = dict(_decision(engine), case_number="JJYL-2026-000002")
    with pytest.raises(WorkflowException, match="not waiting for egov_decision"):
        bare_subsidy.deliver_egov_decision(wf, wrong)
    assert serializer.serialize_json(wf) == before
    assert bare_subsidy.waiting_messages(wf) == [("egov_decision", {"egov_case": {"case_number_key": CASE}})]
    # the right one still goes through afterwards
    bare_subsidy.deliver_egov_decision(wf, _decision(engine))
    assert wf.is_completed() and bare_subsidy.outcome_of(wf) == "approved"


def test_callback_without_matching_correlations_is_refused(specs):
    """Message name and class alone are not enough once the case has its correlation."""
    wf, engine = _waiting_for_egov(specs)
    payload = _decision(engine)
    with pytest.raises(WorkflowException):
        wf.send_event(BpmnEvent(MessageEventDefinition("egov_decision"), payload))
    with pytest.raises(WorkflowException):
        wf.send_event(
            BpmnEvent(
                MessageEventDefinition("egov_decision"), payload, {"egov_case": {"case_number_key": "JJYL-2026-000002"}}
            )
        )
    assert [t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.WAITING)] == [
        "await_egov_decision",
        "timer_query_egov",
    ]


def test_callback_before_the_case_waits_for_it_is_refused(specs):
    wf, engine = bare_subsidy.start_case(*specs, "approved")
    (intake,) = bare_subsidy.ready_user_tasks(wf)
    payload = {
        "case_number": CASE,
        "receipt_number": "ZW0000000001",
        "decision": "approved",
        "decided_by": "egov_zhao",
        "decided_at": "2026-12-02T15:30:00+08:00",
        "reason": None,
    }
    with pytest.raises(WorkflowException, match="not waiting for egov_decision"):
        bare_subsidy.deliver_egov_decision(wf, payload)
    assert bare_subsidy.ready_user_tasks(wf) == [intake]
    assert "egov_decision" not in intake.data
    # a second callback after the first one was consumed is refused as well
    wf, engine = _waiting_for_egov(specs)
    bare_subsidy.deliver_egov_decision(wf, _decision(engine))
    with pytest.raises(WorkflowException):
        bare_subsidy.deliver_egov_decision(wf, _decision(engine, "denied", "迟到的回调"))
    assert bare_subsidy.outcome_of(wf) == "approved" and wf.data["egov_decision"]["decision"] == "approved"


def test_malformed_callback_is_refused_before_sending(specs):
    wf, engine = _waiting_for_egov(specs)
    with pytest.raises(ValueError, match="unknown decision"):
        bare_subsidy.deliver_egov_decision(wf, _decision(engine, decision="maybe"))
    incomplete = _decision(engine)
    del incomplete["reason"]
    with pytest.raises(ValueError, match="reason"):
        bare_subsidy.deliver_egov_decision(wf, incomplete)
    assert [t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.WAITING)] == [
        "await_egov_decision",
        "timer_query_egov",
    ]


@pytest.mark.parametrize(
    ("decision", "outcome", "template"),
    [("approved", "approved", "SUBSIDY_APPROVED"), ("denied", "denied", "SUBSIDY_DENIED")],
)
def test_round_trip_while_waiting_for_the_callback(specs, decision, outcome, template):
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(DEFAULT_CONFIG))
    wf, engine = _waiting_for_egov(specs)
    restored = serializer.deserialize_json(serializer.serialize_json(wf))
    restored.script_engine = engine
    assert restored.correlations == {"egov_case": {"case_number_key": CASE}}
    assert bare_subsidy.waiting_messages(restored) == [("egov_decision", {"egov_case": {"case_number_key": CASE}})]
    with pytest.raises(WorkflowException):  # correlation still enforced after loading
        bare_subsidy.deliver_egov_decision(restored, dict(_decision(engine), case_number="JJYL-2026-000009"))
    bare_subsidy.deliver_egov_decision(restored, _decision(engine, decision, "重复享受同类补贴"))
    assert restored.is_completed()
    assert bare_subsidy.outcome_of(restored) == outcome
    assert restored.data["egov_decision"]["decision"] == decision
    assert [p["template"] for op, p in engine.calls if op == "sms.send_sms"] == ["CASE_RECEIVED", template]
    assert restored.waiting_events() == []


def test_callbacks_reach_only_their_own_case(specs):
    """Two cases wait at once: each accepts only the callback carrying its own case number."""
    first, first_engine = _waiting_for_egov(specs, "JJYL-2026-000001")
    second, second_engine = _waiting_for_egov(specs, "JJYL-2026-000002")
    for_second = _decision(second_engine, "denied", "重复享受同类补贴", case_number="JJYL-2026-000002")
    with pytest.raises(WorkflowException):
        bare_subsidy.deliver_egov_decision(first, for_second)
    bare_subsidy.deliver_egov_decision(second, for_second)
    bare_subsidy.deliver_egov_decision(first, _decision(first_engine, case_number="JJYL-2026-000001"))
    assert (bare_subsidy.outcome_of(first), bare_subsidy.outcome_of(second)) == ("approved", "denied")


# ---------------------------------------------------------------- persistence and time


def test_json_round_trip_at_every_wait_state(specs):
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(DEFAULT_CONFIG))
    sizes = []

    def save_and_restore(wf):
        engine = wf.script_engine
        text = serializer.serialize_json(wf)
        sizes.append(len(text))
        restored = serializer.deserialize_json(text)
        restored.script_engine = engine
        return restored

    run = bare_subsidy.drive(*specs, "supplement_then_approved", wait_hook=save_and_restore)
    assert run.outcome == "approved"
    assert len(sizes) == 5  # the last one while waiting for the e-gov callback
    assert run.workflow.data["eligibility"] == {"eligible": True, "tier": "A", "monthly_amount": 600}

    sizes.clear()
    run = bare_subsidy.drive(*specs, "incident_retry_then_approved", wait_hook=save_and_restore)
    assert run.outcome == "approved"
    assert len(sizes) == 4


def test_supplement_timer_expires_after_30_days(specs):
    freezegun = pytest.importorskip("freezegun")
    with freezegun.freeze_time("2026-03-02T01:00:00+00:00") as clock:
        wf, engine = bare_subsidy.start_case(*specs, "supplement_then_approved")
        (intake,) = bare_subsidy.ready_user_tasks(wf)
        bare_subsidy.complete_user_task(
            wf, intake, {"decision": "supplement", "by": "officer_wang", "missing_materials": ["户口簿复印件"]}
        )
        (supplement,) = bare_subsidy.ready_user_tasks(wf)
        assert supplement.task_spec.bpmn_id == "supplement"
        waiting = wf.waiting_events()
        assert [(e.event_type, e.value) for e in waiting] == [
            ("DurationTimerEventDefinition", "2026-04-01T01:00:00+00:00")
        ]

        clock.tick(timedelta(days=29, hours=23))
        wf.refresh_timers()
        wf.do_engine_steps()
        assert [t.task_spec.bpmn_id for t in bare_subsidy.ready_user_tasks(wf)] == ["supplement"]

        clock.tick(timedelta(hours=2))
        wf.refresh_timers()
        wf.do_engine_steps()
        assert wf.is_completed()
        assert bare_subsidy.outcome_of(wf) == "supplement_expired"
        assert bare_subsidy.ready_user_tasks(wf) == []
        templates = [p.get("template") for op, p in engine.calls if op == "sms.send_sms"]
        assert templates == ["CASE_RECEIVED", "SUPPLEMENT_REQUESTED"]


def test_run_many_reports_a_rate():
    assert bare_subsidy.run_many(5) > 0
