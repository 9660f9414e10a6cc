"""Migration 0004 on a database written before it, on SQLite and PostgreSQL: running cases go on
from their stored state, the message log still verifies, case numbers carry on, incidents keep a reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from engine_support import APPLICANT, FORM, ITEM
from freezegun import freeze_time
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, text

from adapters.sandbox.people import ZHANG_XIUYING
from exchange.log import GENESIS_HASH, HASHED_FIELDS, entry_hash, verify_chain
from huiju.app.bootstrap import build_runtime
from huiju.app.seed import seed_all
from huiju.migrate import upgrade
from huiju.models import Case
from huiju.runtime import Runtime
from huiju.services.actors import load_actor
from huiju.services.cases import submit_case
from huiju.settings import load_settings
from tests.support.servers import PostgresServer
from workflows_bpmn.definitions import latest_definition
from workflows_bpmn.expressions import HuijuScriptEngine, host_functions
from workflows_bpmn.models import InstanceStatus, ProcessInstance
from workflows_bpmn.serialization import SERIALIZER_VERSION

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
ENVELOPE = "<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'><soap:Body>您好</soap:Body>"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield ""
        return
    with PostgresServer() as server:
        yield server.url


def old_state(rt: Runtime) -> str:
    """A subsidy waiting for its receipt SMS, as the build before 0004 stored it (layout 1.5: JSON
    text, no library version inside)."""
    with rt.db.sessions() as session:
        definition = latest_definition(session, "elderly_care_subsidy")
        assert definition is not None
        spec, subprocess_specs = rt.engine.cache.get(definition)
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=HuijuScriptEngine(host_functions()))
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update({"case_number": "HJ2026120100007", "form": FORM, "applicant": {"phone": "13800138000"},
                          "item_name": "居家养老服务补贴"})  # fmt: skip
    workflow.do_engine_steps()
    document = json.loads(rt.engine.store.text(rt.engine.store.dumps(workflow)))
    del document["serializer_version"]
    return json.dumps(document, ensure_ascii=False)


@pytest.fixture
def rt(tmp_path: Path, database_url: str) -> Iterator[Runtime]:
    settings = load_settings(instance_path=tmp_path, env="test", exchange_signing=False, database_url=database_url)
    runtime = build_runtime(settings, with_celery=False)
    yield runtime
    runtime.db.dispose()


def test_a_database_written_before_0004_is_upgraded_and_goes_on(rt: Runtime) -> None:
    upgrade(rt.db, "0009")  # the head before 0004 (the engine's migration is the last)
    with rt.db.transaction() as session:  # the tables 0004 leaves alone have today's shape
        seed_all(session, "http://127.0.0.1:9")
    state = old_state(rt)
    with freeze_time(NOW), rt.db.engine.begin() as connection:
        definition_id = connection.execute(
            text("SELECT max(id) FROM process_definition WHERE process_id = 'elderly_care_subsidy'")
        ).scalar_one()
        row = {"d": definition_id, "s": state, "now": NOW, "context": json.dumps({"case_number": "HJ2026120100007"})}
        for status in ("RUNNING", "INCIDENT"):
            connection.execute(
                text(
                    "INSERT INTO process_instance (definition_id, process_id, status, context, serialized, "
                    "serializer_version, created_at, updated_at, lock_version) VALUES (:d, 'elderly_care_subsidy', "
                    ":status, :context, :s, '1.5', :now, :now, 3)"
                ),
                {**row, "status": status},
            )
        prev = GENESIS_HASH
        for n in (1, 2):
            entry = {
                "id": n, "at": NOW, "direction": "out", "kind": "request", "message_id": f"m{n}",
                "related_message_id": None, "system": "sms", "operation": "sms.send_sms", "client": "huiju",
                "service": "sms.sms.send_sms", "user_id": "system", "case_number": "HJ2026120100007",
                "envelope": ENVELOPE, "signature_status": "valid", "verification": None, "attempt": 1,
                "outcome": "sent", "error": None, "prev_hash": prev,
            }  # fmt: skip
            prev = entry_hash(entry)
            names = [*HASHED_FIELDS, "entry_hash"]
            connection.execute(
                text(f"INSERT INTO message_log ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)})"),  # noqa: S608
                {**entry, "entry_hash": prev},
            )
    with rt.db.transaction() as session:  # the seventh case of that day, numbered the old way (count + 1)
        session.execute(
            text(
                'INSERT INTO "case" (number, item_id, applicant_id, community_id, status, form_data, '
                "submitted_by, submitted_at, updated_at, due_provisional, paused_days) SELECT 'HJ2026120100007', "
                "i.id, r.id, r.community_id, 'SUBMITTED', '{}', 'admin', :now, :now, false, 0 FROM item i, resident r "
                "WHERE i.code = :item AND r.id_number = :idn"
            ),
            {"now": NOW, "item": ITEM, "idn": ZHANG_XIUYING},
        )

    upgrade(rt.db)

    with rt.db.sessions() as session:
        running, stopped = session.scalars(select(ProcessInstance).order_by(ProcessInstance.id)).all()
        report = verify_chain(session)
        envelopes = session.execute(text("SELECT envelope_zlib FROM message_log ORDER BY id")).scalars().all()
    assert (report.ok, report.checked) == (True, 2)
    assert all(e is not None and len(e) < len(ENVELOPE.encode()) + 40 for e in envelopes)
    assert isinstance(running.serialized, bytes) and running.serializer_version == "1.5"
    assert (stopped.status, stopped.incident_kind) == (InstanceStatus.INCIDENT, "call_failed")
    with rt.db.sessions() as session:
        workflow = rt.engine.load(session, running.id)  # migrated from layout 1.5 on load
    [waiting] = workflow.get_tasks(state=TaskState.STARTED)
    assert waiting.task_spec.operation_name == "sms.send_sms"
    with rt.db.transaction() as session:  # a step on it writes today's layout
        rt.engine.update_data(session, running.id, {"note": "carried over"})
    with rt.db.sessions() as session:
        assert session.get(ProcessInstance, running.id).serializer_version == SERIALIZER_VERSION  # type: ignore[union-attr]

    with freeze_time(NOW), rt.db.transaction() as session:  # numbers carry on from the day's last one
        case = submit_case(session, rt.engine, load_actor(session, APPLICANT), ITEM, ZHANG_XIUYING, dict(FORM))
        assert case.number == "HJ2026120100008"
    with rt.db.sessions() as session:
        assert len(session.scalars(select(Case.number)).all()) == 2
