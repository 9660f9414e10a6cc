"""Benchmark: Huiju's engine step against bare SpiffWorkflow, case by case, on the subsidy's approved path.

Every variant runs the elderly-care subsidy (居家养老服务补贴) along its "approved" path: the same BPMN,
the same DMN, six service calls (receipt SMS, identity, person, e-gov report, approval SMS, published
record), two human decisions and the extranet's decision callback. The variants are interleaved case
by case — each round runs one case of every variant, in turn — so that other load on a shared
machine falls on all of them alike:

(a) bare SpiffWorkflow in memory, its stock evaluator (``PythonScriptEngine``); service calls
    answered inline (``bench/bare_subsidy.py``);
(b) the same with Huiju's restricted evaluator (``SafeEnvironment``: simpleeval, whitelisted helpers);
(c) Huiju on SQLite: the case service and the engine, every step persisted in its own write
    transaction; each service call's canned reply recorded and taken by its step in one
    transaction (``record_and_settle``, what the worker does after its call; no network, so no lease);
(d) the same on PostgreSQL, a throw-away server (``--no-postgresql`` to leave it out);
(e) Huiju end to end on SQLite: every call signed, sent over HTTPS to the sandbox, its signed reply
    verified, logged and taken (``process_message``: lease, call, record and take).

A case's decisions issue two documents (受理通知书, the 准予 decision); their PDFs are made and signed
after the decision commits, by the worker, so not in (c)'s steps: they are made after the rounds and
timed on their own line, with the engine ratio they would give if counted.

Prints ``engine ratio`` = cases per second of (c) ÷ (a), the other ratios under their own names
(and, beside the engine ratios, the median of each round's own ratio: the host's speed changes by
stretches of a second or so, which the ratio of the totals weighs unevenly), the SQL statements and
write transactions of one case of (c) and (d) (counted with SQLAlchemy events; a statement sent with
many rows counts once; BEGIN is not counted), and the bytes a concluded case stores (the values of
its rows: engine state, case and events; then its messages).

Usage: ``python bench/engine.py [-n N] [--no-postgresql]`` (default 100 cases per variant).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

# Run as a file, Python puts this folder first on sys.path, where exchange.py would shadow the
# exchange package: the repository root goes there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from sqlalchemy import event, select  # noqa: E402
from sqlalchemy.engine import Engine as SqlEngine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from adapters.config import AdapterConfig, AdapterSettings  # noqa: E402
from adapters.sandbox.people import ZHANG_XIUYING, find  # noqa: E402
from adapters.sandbox.server import SandboxServer  # noqa: E402
from adapters.tls import ServerTls  # noqa: E402
from bench import bare_subsidy  # noqa: E402
from certs.store import init_dev_pki, load_signing_identity  # noqa: E402
from certs.trust import TrustStore  # noqa: E402
from exchange.delivery import Attempt  # noqa: E402
from exchange.log import MessageLogEntry  # noqa: E402
from exchange.models import OutboxMessage  # noqa: E402
from exchange.outbox import Claimed  # noqa: E402
from huiju.app.bootstrap import build_runtime  # noqa: E402
from huiju.app.callbacks import deliver_decision  # noqa: E402
from huiju.app.housekeeping import make_unmade_documents  # noqa: E402
from huiju.app.seed import seed_all  # noqa: E402
from huiju.models import Case, CaseEvent  # noqa: E402
from huiju.runtime import Runtime  # noqa: E402
from huiju.services import cases as case_service  # noqa: E402
from huiju.services import tasks as task_service  # noqa: E402
from huiju.services.actors import Actor, load_actor  # noqa: E402
from huiju.settings import load_settings  # noqa: E402
from workflows_bpmn.expressions import SafeEnvironment, host_functions  # noqa: E402
from workflows_bpmn.models import HumanTask, InstanceStatus, ProcessInstance  # noqa: E402
from workflows_bpmn.runner import StepResult  # noqa: E402
from workflows_bpmn.tasks import process_message, record_and_settle  # noqa: E402

FORM = {"income_band": "subsistence", "disability": "none", "living_alone": True}
DECISIONS = {"intake": ("officer", "accept"), "street_review": ("reviewer", "approve")}
WARMUP = 5


class RestrictedEngine(bare_subsidy.CannedScriptEngine):
    """The bare run's script engine with Huiju's evaluator instead of the stock one."""

    def __init__(self, scenario: bare_subsidy.Scenario) -> None:
        super().__init__(scenario)
        self.environment = SafeEnvironment(host_functions())


def canned(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """What the adapter hands back for each call (shapes as in ``adapters.registry``)."""
    if operation == "citizen_info.verify_identity":
        return {"match": True, "reason": None}
    if operation == "citizen_info.query_person":
        person = find(str(params["id_number"]))
        if person is None:
            raise LookupError(params["id_number"])
        return {"id_number": person.id_number, "name": person.name, "gender": person.gender,
                "birth_date": person.birth_date.isoformat(), "registered_address": person.registered_address,
                "household": []}  # fmt: skip
    if operation == "sms.send_sms":
        return {"sms_id": "SMS00000001", "accepted": True}
    if operation == "egov.submit_case":
        return {"receipt_number": "ZW0000000001", "received_at": "2026-03-02T10:00:00+08:00"}
    if operation == "data_exchange.publish_record":
        return {"record_id": "REC-1"}
    raise ValueError(f"no canned reply for {operation}")


class SqlCounter:
    """SQL statements and write transactions on one database engine, while ``on``."""

    def __init__(self, engine: SqlEngine) -> None:
        self.on = False
        self.statements = 0
        self.writes = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._rollback)

    def _statement(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not self.on:
            return
        verb = statement.lstrip()[:6].upper()
        if verb.startswith("BEGIN"):
            return
        self.statements += 1
        if verb in ("INSERT", "UPDATE", "DELETE"):
            conn.info["huiju_bench_wrote"] = True

    def _commit(self, conn: Any) -> None:
        if conn.info.pop("huiju_bench_wrote", False) and self.on:
            self.writes += 1

    def _rollback(self, conn: Any) -> None:
        conn.info.pop("huiju_bench_wrote", None)


@dataclass
class Huiju:
    """One Huiju variant: a runtime on its own database, driven through the services."""

    label: str
    rt: Runtime
    deliver: Callable[[Huiju, OutboxMessage], str | None]  # -> the receipt of an e-gov report
    actors: dict[str, Actor] = field(default_factory=dict)
    settings: dict[str, AdapterSettings] = field(default_factory=dict)
    results: list[StepResult] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    counter: SqlCounter | None = None
    elapsed: float = 0.0
    cases: int = 0
    times: list[float] = field(default_factory=list)  # each timed case's seconds, round by round

    @classmethod
    def build(
        cls, label: str, rt: Runtime, sandbox_url: str, deliver: Callable[[Huiju, OutboxMessage], str | None]
    ) -> Huiju:
        rt.db.create_all()
        with rt.db.transaction() as session:
            seed_all(session, sandbox_url)
        h = cls(label, rt, deliver)
        with rt.db.transaction() as session:
            h.actors = {
                "applicant": load_actor(session, "resident-zhang"),
                "officer": load_actor(session, "officer-chaoyang-01"),
                "reviewer": load_actor(session, "reviewer-wangjing-01"),
            }
            h.settings = {c.system: c.snapshot() for c in session.scalars(select(AdapterConfig))}
        rt.engine.listeners.append(lambda _session, result: h.results.append(result))
        h.counter = SqlCounter(rt.db.engine)
        return h

    def run_case(self) -> None:
        """Submit a case and move it to its end through the services, as officers and the worker do."""
        self.results.clear()
        with self.rt.db.transaction() as session:
            case = case_service.submit_case(session, self.rt.engine, self.actors["applicant"],
                                            "elderly-care-subsidy", ZHANG_XIUYING, dict(FORM))  # fmt: skip
            number = case.number
        self.numbers.append(number)
        seen = 0
        while True:
            new, seen = self.results[seen:], len(self.results)
            ended = [r.instance for r in new if r.instance.status is InstanceStatus.COMPLETED]
            if ended:
                if ended[-1].outcome != "approved":
                    raise RuntimeError(f"case {number} ended {ended[-1].outcome!r}")
                return
            messages = [m for r in new for m in r.messages]
            tasks = [t for r in new for t in r.ready_tasks]
            if not messages and not tasks:
                raise RuntimeError(f"case {number} waits for nothing this bench drives")
            for message in messages:
                receipt = self.deliver(self, message)
                if receipt is not None:  # the extranet's decision comes back by callback
                    with self.rt.db.transaction() as session:
                        deliver_decision(session, self.rt.engine, number, receipt)
            for task in tasks:
                self.complete(task)

    def complete(self, task: HumanTask) -> None:
        who, decision = DECISIONS[task.step]
        with self.rt.db.transaction() as session:
            task_service.complete_task(session, self.rt.engine, self.actors[who], task.id, decision, {})

    def timed_case(self, *, count: bool) -> None:
        assert self.counter is not None
        self.counter.on = count
        began = time.perf_counter()
        self.run_case()
        took = time.perf_counter() - began
        self.elapsed += took
        self.times.append(took)
        self.counter.on = False
        self.cases += 1

    @property
    def rate(self) -> float:
        return self.cases / self.elapsed


def deliver_canned(h: Huiju, message: OutboxMessage) -> str | None:
    """The worker after its call: the reply recorded and taken by its step, in one transaction."""
    reply = canned(message.operation, message.params)
    claimed = Claimed(
        message_id=message.message_id, operation=message.operation, params=message.params,
        user_id=message.user_id, case_number=message.case_number, attempt=0, settings=h.settings[message.system],
        process_instance_id=message.process_instance_id, reply_to=message.reply_to,
    )  # fmt: skip
    record_and_settle(h.rt.db, h.rt.engine, claimed, Attempt(reply=reply))
    return str(reply["receipt_number"]) if message.operation == "egov.submit_case" else None


def deliver_soap(h: Huiju, message: OutboxMessage) -> str | None:
    """The worker's job: lease, signed call to the sandbox, record and take (``process_message``)."""
    status = process_message(h.rt, message.message_id)
    if status is None or status.value != "delivered":
        raise RuntimeError(f"message {message.message_id} was not delivered ({status})")
    if message.operation != "egov.submit_case":
        return None
    with h.rt.db.sessions() as session:
        reply = session.scalars(select(OutboxMessage.reply).where(OutboxMessage.message_id == message.message_id)).one()
    return str((reply or {})["receipt_number"])


@dataclass
class Bare:
    label: str
    engine_class: type[bare_subsidy.CannedScriptEngine]
    elapsed: float = 0.0
    cases: int = 0
    times: list[float] = field(default_factory=list)

    def timed_case(self, spec: Any, subprocess_specs: Any, i: int) -> None:
        began = time.perf_counter()
        run = bare_subsidy.drive(spec, subprocess_specs, "approved", case_number=f"JJYL-2026-{i:06d}",
                                 engine_class=self.engine_class)  # fmt: skip
        took = time.perf_counter() - began
        self.elapsed += took
        self.times.append(took)
        self.cases += 1
        if run.outcome != "approved":
            raise RuntimeError(f"bare case {i} ended {run.outcome!r}")

    @property
    def rate(self) -> float:
        return self.cases / self.elapsed


def paired_ratio(reference: Bare, variant: Bare | Huiju) -> tuple[float, float, float]:
    """The ratio of ``variant`` to ``reference`` in each round (their cases ran one after the other,
    on the host as it was then): the median, and the quartiles, over the rounds. Unlike the ratio of
    the totals, one slow stretch of the host or one long pause weighs no more than any other round."""
    ratios = sorted(r / v for r, v in zip(reference.times, variant.times, strict=True))
    q1, median, q3 = statistics.quantiles(ratios, n=4)
    return median, q1, q3


def _size(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, dict | list):
        return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if isinstance(value, datetime | date):
        return 8
    return 8 if isinstance(value, int | float | bool) else len(str(value))


def _rows_size(session: Session, stmt: Any) -> int:
    return sum(_size(v) for row in session.execute(stmt) for v in row)


def stored_bytes(h: Huiju, numbers: list[str]) -> tuple[float, float]:
    """Mean bytes per concluded case: (engine state + case + events, its messages: outbox + log)."""
    own, messages = 0, 0
    with h.rt.db.sessions() as session:
        for number in numbers:
            case_id, instance_id = session.execute(
                select(Case.id, Case.process_instance_id).where(Case.number == number)
            ).one()
            own += _rows_size(session, select(*Case.__table__.columns).where(Case.id == case_id))
            own += _rows_size(session, select(*CaseEvent.__table__.columns).where(CaseEvent.case_id == case_id))
            own += _rows_size(
                session, select(*ProcessInstance.__table__.columns).where(ProcessInstance.id == instance_id)
            )
            own += _rows_size(session, select(*HumanTask.__table__.columns).where(HumanTask.instance_id == instance_id))
            messages += _rows_size(
                session, select(*OutboxMessage.__table__.columns).where(OutboxMessage.case_number == number)
            )
            messages += _rows_size(
                session, select(*MessageLogEntry.__table__.columns).where(MessageLogEntry.case_number == number)
            )
    return own / len(numbers), messages / len(numbers)


def make_documents(h: Huiju) -> tuple[int, float]:
    """Make the PDFs of the documents the variant's cases issued, as the worker's round does after
    the decisions: (how many, milliseconds in all). Not part of a step, so not in the step's timing."""
    began = time.perf_counter()
    made = make_unmade_documents(h.rt)
    return made, (time.perf_counter() - began) * 1000


@contextmanager
def postgresql() -> Iterator[str]:
    from tests.support.servers import PostgresServer

    with PostgresServer() as server:
        yield server.url


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", type=int, default=100, help="cases per variant (default 100)")
    parser.add_argument("--no-postgresql", action="store_true", help="leave out the PostgreSQL variant")
    args = parser.parse_args(argv)
    n = args.n
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access line per SOAP call otherwise
    logging.getLogger("adapters").setLevel(logging.WARNING)

    spec, subprocess_specs = bare_subsidy.load_specs()
    stock = Bare("(a) bare SpiffWorkflow, stock evaluator", bare_subsidy.CannedScriptEngine)
    restricted = Bare("(b) bare SpiffWorkflow, Huiju's evaluator", RestrictedEngine)
    with tempfile.TemporaryDirectory(prefix="huiju-bench-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        pki = folder / "soap" / "certs"  # the signed variant's own certificate folder
        init_dev_pki(pki)
        plain = stack.enter_context(SandboxServer(port=0))
        secure = stack.enter_context(
            SandboxServer(port=0, trust=TrustStore.load(pki), signer=load_signing_identity(pki, "sandbox"),
                          tls=ServerTls.from_store(pki, "sandbox"))
        )  # fmt: skip

        def runtime(name: str, **settings: Any) -> Runtime:
            config = load_settings(instance_path=folder / name, env="test", **settings)
            return build_runtime(config, with_celery=False)

        sqlite = Huiju.build("(c) Huiju, SQLite, replies canned", runtime("canned", exchange_signing=False),
                             plain.url, deliver_canned)  # fmt: skip
        variants = [sqlite]
        pg: Huiju | None = None
        if not args.no_postgresql:
            url = stack.enter_context(postgresql())
            pg_runtime = runtime("pg", exchange_signing=False, database_url=url)
            pg = Huiju.build("(d) Huiju, PostgreSQL, replies canned", pg_runtime, plain.url, deliver_canned)
            variants.append(pg)
        soap = Huiju.build("(e) Huiju end to end, signed SOAP", runtime("soap", exchange_signing=True),
                           secure.url, deliver_soap)  # fmt: skip
        variants.append(soap)

        # Loaded as a worker is when it starts taking jobs, and, as it does then, what is loaded is put
        # out of the garbage collector's sight (``huiju worker``; gunicorn's processes alike).
        gc.freeze()
        for i in range(WARMUP + n):  # the first rounds warm caches (specs, zeep clients, pages) and are dropped
            timed = i >= WARMUP
            for bare in (stock, restricted):
                if timed:
                    bare.timed_case(spec, subprocess_specs, i)
                else:
                    bare_subsidy.drive(spec, subprocess_specs, "approved", engine_class=bare.engine_class)
            for h in variants:
                if timed:
                    h.timed_case(count=True)
                else:
                    h.run_case()
        documents_ms = make_documents(sqlite)
        concluded = {h.label: stored_bytes(h, h.numbers[-min(20, n) :]) for h in (sqlite, soap)}
        per_case = {h.label: (h.counter.statements / h.cases, h.counter.writes / h.cases)
                    for h in variants if h.counter is not None}  # fmt: skip
        for h in variants:
            h.rt.db.dispose()

    print(f"elderly_care_subsidy, approved path: 6 service calls, 2 human tasks, 1 callback; {n} cases per "
          "variant, interleaved case by case")  # fmt: skip
    print(f"{'':50} {'cases/s':>9} {'ms/case':>8}")
    rows: list[Bare | Huiju] = [stock, restricted, *variants]
    for row in rows:
        print(f"{row.label:50} {row.rate:>9,.1f} {1000 / row.rate:>8.2f}")
    print()
    statements, writes = per_case[sqlite.label]
    print(f"statements per case {statements:.0f}")
    print(f"write transactions per case {writes:.0f}")
    if pg is not None:
        print(f"statements per case (postgresql) {per_case[pg.label][0]:.0f}")
        print(f"write transactions per case (postgresql) {per_case[pg.label][1]:.0f}")
    print(f"statements per case (end to end, signed SOAP) {per_case[soap.label][0]:.0f}")
    print(f"write transactions per case (end to end, signed SOAP) {per_case[soap.label][1]:.0f}")
    print()
    print(f"engine ratio {sqlite.rate / stock.rate:.2f}")
    if pg is not None:
        print(f"postgresql engine ratio {pg.rate / stock.rate:.2f}")
    paired: list[tuple[str, Huiju | None]] = [("engine ratio", sqlite), ("postgresql engine ratio", pg)]
    for name, variant in paired:
        if variant is not None:
            median, q1, q3 = paired_ratio(stock, variant)
            print(f"{name}, median of the rounds' own ratios {median:.2f} (quartiles {q1:.2f} to {q3:.2f})")
    print(f"restricted evaluator ratio {restricted.rate / stock.rate:.2f}")
    print(f"engine ratio against the restricted evaluator {sqlite.rate / restricted.rate:.2f}")
    print(f"end-to-end ratio {soap.rate / stock.rate:.2f}")
    print()
    made, made_ms = documents_ms
    per_case_ms = made_ms / max(sqlite.cases + WARMUP, 1)
    print(f"document PDFs made off the step (the worker's job), per case: {made / max(sqlite.cases + WARMUP, 1):.1f}, "
          f"{per_case_ms:.2f} ms")  # fmt: skip
    print(f"engine ratio with those PDFs counted {(1 / (1 / sqlite.rate + per_case_ms / 1000)) / stock.rate:.2f}")
    print()
    own, _ = concluded[sqlite.label]
    print(f"bytes per case, engine state, case and events (replies canned) {own:,.0f}")
    own, messages = concluded[soap.label]
    print(f"bytes per case, engine state, case and events (signed SOAP) {own:,.0f}")
    print(f"bytes per case, its messages: outbox and message log (signed SOAP) {messages:,.0f}")


if __name__ == "__main__":
    main()
