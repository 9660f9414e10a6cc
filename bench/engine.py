"""Benchmark: bare SpiffWorkflow against Huiju's engine, side by side, on the subsidy "approved" path.

(a) bare SpiffWorkflow in memory (``bare_subsidy.run_many``): no database, stock evaluator;
(b) Huiju's Engine with persistence: a temporary SQLite instance, each step in its own
    transaction, service replies canned and settled in-process (no network);
(c) end to end: the same with real SOAP calls to an in-process sandbox via ``process_message``
    (no Celery).

Also the stored state per instance against the size of the bare serializer's output.

Usage: ``python bench/engine.py [-n N]`` (default 200).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

# Run as a file, Python puts this folder first on sys.path, where exchange.py would shadow the
# exchange package: the repository root goes there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer  # noqa: E402
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG  # noqa: E402

from adapters.sandbox.people import ZHANG_XIUYING, find  # noqa: E402
from adapters.sandbox.server import SandboxServer  # noqa: E402
from bench import bare_subsidy  # noqa: E402
from certs.store import init_dev_pki, load_signing_identity  # noqa: E402
from certs.trust import TrustStore  # noqa: E402
from exchange.models import MessageStatus, OutboxMessage  # noqa: E402
from huiju.app.bootstrap import build_runtime  # noqa: E402
from huiju.app.callbacks import deliver_decision  # noqa: E402
from huiju.app.seed import seed_all  # noqa: E402
from huiju.models import Case  # noqa: E402
from huiju.runtime import Runtime  # noqa: E402
from huiju.services import cases as case_service  # noqa: E402
from huiju.services import tasks as task_service  # noqa: E402
from huiju.services.actors import Actor, load_actor  # noqa: E402
from huiju.settings import load_settings  # noqa: E402
from workflows_bpmn.models import HumanTask, HumanTaskStatus, InstanceStatus, ProcessInstance  # noqa: E402
from workflows_bpmn.tasks import process_message  # noqa: E402

FORM = {"income_band": "subsistence", "disability": "none", "living_alone": True}
Deliver = Callable[[Runtime, str], None]


def canned(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    if operation == "citizen_info.verify_identity":
        return {"match": True, "reason": None}
    if operation == "citizen_info.query_person":
        person = find(str(params["id_number"]))
        if person is None:
            raise LookupError(params["id_number"])
        return {"id_number": person.id_number, "name": person.name, "gender": person.gender,
                "birth_date": person.birth_date.isoformat(), "household": []}  # fmt: skip
    if operation == "sms.send_sms":
        return {"sms_id": "SMS00000001", "accepted": True}
    if operation == "egov.submit_case":
        return {"receipt_number": "ZW0000000001", "received_at": "2026-03-02T10:00:00+08:00"}
    if operation == "data_exchange.publish_record":
        return {"record_id": "REC-1"}
    raise ValueError(f"no canned reply for {operation}")


def settle_canned(rt: Runtime, message_id: str) -> None:
    with rt.db.transaction() as session:
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.message_id == message_id)).one()
        message.status = MessageStatus.DELIVERED
        message.attempts = 1
        message.reply = canned(message.operation, message.params)
        rt.engine.settle(session, message_id)
    extranet_decides(rt, message_id)


def deliver_soap(rt: Runtime, message_id: str) -> None:
    if process_message(rt, message_id) is not MessageStatus.DELIVERED:
        raise RuntimeError(f"message {message_id} was not delivered")
    extranet_decides(rt, message_id)


def extranet_decides(rt: Runtime, message_id: str) -> None:
    """After SubmitCase the extranet's decision comes back; played in-process (no web server here)."""
    with rt.db.transaction() as session:
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.message_id == message_id)).one()
        if message.operation == "egov.submit_case" and message.reply is not None:
            deliver_decision(session, rt.engine, str(message.case_number), str(message.reply["receipt_number"]))


def drain(rt: Runtime, case_number: str, deliver: Deliver) -> None:
    while True:
        with rt.db.sessions() as session:
            ids = list(
                session.scalars(
                    select(OutboxMessage.message_id)
                    .where(OutboxMessage.status == MessageStatus.PENDING, OutboxMessage.case_number == case_number)
                    .order_by(OutboxMessage.id)
                )
            )
        if not ids:
            return
        for message_id in ids:
            deliver(rt, message_id)


def complete_ready(rt: Runtime, instance_id: int, actor: Actor, decision: str) -> None:
    with rt.db.transaction() as session:
        task_id = session.scalars(
            select(HumanTask.id).where(HumanTask.instance_id == instance_id, HumanTask.status == HumanTaskStatus.READY)
        ).one()
        task_service.complete_task(session, rt.engine, actor, task_id, decision, {})


def run_case(rt: Runtime, actors: dict[str, Actor], deliver: Deliver) -> None:
    with rt.db.transaction() as session:
        case = case_service.submit_case(session, rt.engine, actors["applicant"], "elderly-care-subsidy",
                                        ZHANG_XIUYING, dict(FORM))  # fmt: skip
        number, instance_id = case.number, case.process_instance_id
    if instance_id is None:
        raise RuntimeError("the case has no process")
    drain(rt, number, deliver)
    complete_ready(rt, instance_id, actors["officer"], "accept")
    complete_ready(rt, instance_id, actors["reviewer"], "approve")
    drain(rt, number, deliver)
    with rt.db.sessions() as session:
        outcome = session.scalars(select(Case.outcome).where(Case.number == number)).one()
    if outcome != "approved":
        raise RuntimeError(f"case {number} ended {outcome!r}")


def huiju_rate(
    folder: Path, sandbox_url: str, n: int, deliver: Deliver, *, signing: bool = False
) -> tuple[float, float]:
    """Cases per second through Huiju, and the mean stored state of the completed instances."""
    rt = build_runtime(load_settings(instance_path=folder, env="test", exchange_signing=signing), with_celery=False)
    rt.db.create_all()
    with rt.db.transaction() as session:
        seed_all(session, sandbox_url)
        actors = {
            "applicant": load_actor(session, "resident-zhang"),
            "officer": load_actor(session, "officer-chaoyang-01"),
            "reviewer": load_actor(session, "reviewer-wangjing-01"),
        }
    for _ in range(3):  # warm up: spec cache, zeep clients, SQLite pages
        run_case(rt, actors, deliver)
    began = time.perf_counter()
    for _ in range(n):
        run_case(rt, actors, deliver)
    elapsed = time.perf_counter() - began
    with rt.db.sessions() as session:
        size = session.scalar(
            select(func.avg(func.length(ProcessInstance.serialized))).where(
                ProcessInstance.status == InstanceStatus.COMPLETED
            )
        )
    rt.db.dispose()
    return n / elapsed, float(size or 0)


def bare_state_size() -> int:
    """Characters of the library serializer's JSON for one completed bare instance."""
    spec, subprocess_specs = bare_subsidy.load_specs()
    workflow = bare_subsidy.drive(spec, subprocess_specs, "approved").workflow
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(DEFAULT_CONFIG))
    return len(serializer.serialize_json(workflow))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", type=int, default=200, help="cases per measurement (default 200)")
    n = parser.parse_args(argv).n
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access line per SOAP call otherwise

    bare_subsidy.run_many(20)  # warm up
    bare = bare_subsidy.run_many(n)
    with tempfile.TemporaryDirectory(prefix="huiju-bench-") as tmp:
        pki = Path(tmp) / "soap" / "certs"  # the instance's own certificate folder
        init_dev_pki(pki)
        secure = SandboxServer(port=0, trust=TrustStore.load(pki), signer=load_signing_identity(pki, "sandbox"))
        with SandboxServer(port=0) as plain, secure:
            engine, stored = huiju_rate(Path(tmp) / "canned", plain.url, n, lambda rt, mid: settle_canned(rt, mid))
            soap, _ = huiju_rate(Path(tmp) / "soap", secure.url, n, deliver_soap, signing=True)
    bare_size = bare_state_size()

    rows = [
        ("(a) bare SpiffWorkflow, in memory", f"{bare:,.0f}", "1.00"),
        ("(b) Huiju engine, SQLite, canned replies", f"{engine:,.0f}", f"{bare / engine:.1f}"),
        ("(c) Huiju end to end, signed SOAP to the sandbox", f"{soap:,.0f}", f"{bare / soap:.1f}"),
    ]
    print(f"elderly_care_subsidy, approved path, {n} cases per row (6 service calls, 2 human tasks each)")
    print(f"{'':44} {'cases/s':>9} {'a / row':>8}")
    for label, rate, ratio in rows:
        print(f"{label:44} {rate:>9} {ratio:>8}")
    print()
    print(f"{'stored state per completed instance':44} {stored:>9,.0f} chars")
    print(f"{'bare serializer output (spec included)':44} {bare_size:>9,} chars")
    print(f"{'ratio stored / bare':44} {stored / bare_size:>9.2f}")


if __name__ == "__main__":
    main()
