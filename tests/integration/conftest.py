"""A real sandbox (SOAP over loopback HTTP) and a real Celery worker process, shared by the session.

The worker is started as ``huiju worker --pool solo`` in its own process with the embedded sweep,
on the filesystem broker of a temporary instance folder; the test process submits cases and
completes tasks through the service layer on the same SQLite database.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from adapters.config import AdapterConfig
from adapters.sandbox.server import SandboxServer
from adapters.tls import ClientTls, ServerTls, client_context
from certs.store import init_dev_pki, load_signing_identity
from certs.trust import TrustStore
from huiju.app.bootstrap import build_runtime
from huiju.app.seed import seed_all
from huiju.migrate import upgrade
from huiju.models import Case, CaseStatus
from huiju.runtime import Runtime
from huiju.services.actors import load_actor
from huiju.services.cases import submit_case
from huiju.services.tasks import complete_task, inbox
from huiju.settings import load_settings
from tests.support import polling
from tests.support.servers import PostgresServer, RedisServer

LEASE_SECONDS = 3.0
SWEEP_SECONDS = 0.5
WAIT_SECONDS = 40.0


class Sandbox:
    def __init__(self, server: SandboxServer, context: ssl.SSLContext | None = None) -> None:
        self.server = server
        self.url = server.url
        self.context = context  # the control API is behind the same mTLS as the SOAP services

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(  # noqa: S310 - loopback
            f"{self.url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=5, context=self.context) as reply:  # noqa: S310 - loopback
            raw = reply.read()
            return json.loads(raw) if raw else None

    def fault(self, operation: str, mode: str, count: int | None = None, seconds: float | None = None) -> None:
        rule: dict[str, Any] = {"operation": operation, "mode": mode, "count": count}
        if seconds is not None:
            rule["seconds"] = seconds
        self._request("POST", "/_sandbox/faults", rule)

    def clear_faults(self) -> None:
        self._request("DELETE", "/_sandbox/faults")

    def journal(self, **filters: str) -> list[dict[str, Any]]:
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        return list(self._request("GET", f"/_sandbox/journal?{query}"))


class Worker:
    """One `huiju worker` process; restartable, killable."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "huiju.cli", "worker", "--pool", "solo", "--loglevel", "INFO"],
                env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def kill(self) -> None:
        """SIGKILL the worker and its embedded beat, as a crash of the machine would."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process:
            try:  # whatever of the group is left (a beat process outliving its worker)
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@dataclass
class Backend:
    """The settings of one backend, and its servers (None on the embedded defaults)."""

    name: str
    settings: dict[str, str]
    postgres: PostgresServer | None = None
    redis: RedisServer | None = None


@pytest.fixture(scope="session", params=["embedded", "postgresql-redis"])
def backend_servers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """The same suite twice: on the embedded defaults, and on PostgreSQL with Redis as the broker."""
    if request.param == "embedded":
        yield Backend("embedded", {})
        return
    folder = tmp_path_factory.mktemp("servers")
    with PostgresServer() as pg, RedisServer(folder / "redis") as redis:
        yield Backend("postgresql-redis", {"database_url": pg.url, "broker_url": redis.url}, pg, redis)


@pytest.fixture(scope="session")
def backend(backend_servers: Backend) -> dict[str, str]:
    return backend_servers.settings


@pytest.fixture(scope="session")
def instance_dir(backend: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("huiju-instance")
    init_dev_pki(folder / "certs")  # what `huiju init` makes: the platform and the sandbox sign
    return folder


@pytest.fixture(scope="session")
def sandbox(instance_dir: Path) -> Iterator[Sandbox]:
    """The sandbox in secure mode: it verifies every request and signs every reply."""
    pki = instance_dir / "certs"
    server = SandboxServer(
        trust=TrustStore.load(pki),
        signer=load_signing_identity(pki, "sandbox"),
        tls=ServerTls.from_store(pki, "sandbox"),
    )
    with server:
        yield Sandbox(server, client_context(ClientTls.from_store(pki, "huiju")))


@pytest.fixture(scope="session")
def worker_env(instance_dir: Path, backend: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUIJU_")}
    env.update(
        HUIJU_ENV="test",
        HUIJU_INSTANCE_PATH=str(instance_dir),
        HUIJU_LEASE_SECONDS=str(LEASE_SECONDS),
        HUIJU_SWEEP_SECONDS=str(SWEEP_SECONDS),
        # The worker keeps pace with the tests that wait for it, on a machine they keep busy
        # (production yields it to the web processes; see tests/cli/test_demo_scale_smoke.py).
        HUIJU_WORKER_NICENESS="0",
        **{f"HUIJU_{key.upper()}": value for key, value in backend.items()},
    )
    return env


@pytest.fixture(scope="session")
def runtime(instance_dir: Path, sandbox: Sandbox, backend: dict[str, str]) -> Iterator[Runtime]:
    settings = load_settings(
        env="test",
        instance_path=instance_dir,
        lease_seconds=LEASE_SECONDS,
        sweep_seconds=SWEEP_SECONDS,
        **backend,
    )
    rt = build_runtime(settings)
    upgrade(rt.db)  # the migrations, on SQLite and on PostgreSQL
    with rt.db.transaction() as session:
        seed_all(session, sandbox.url)
        # Short budgets, so that failure paths finish in a test's time.
        session.execute(update(AdapterConfig).values(max_attempts=3, backoff_seconds=0.2, operation_timeout=4.0))
    yield rt
    rt.db.dispose()


@pytest.fixture(scope="session")
def web(runtime: Runtime, sandbox: Sandbox) -> Iterator[str]:
    """The web process (API and the inbound endpoint); the sandbox sends its callbacks there."""
    from werkzeug.serving import make_server

    from huiju.app.web import create_app

    server = make_server("127.0.0.1", 0, create_app(runtime), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="huiju-web", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    sandbox.server.call_back_to(f"{url}/exchange/soap")
    yield url
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def worker(runtime: Runtime, worker_env: dict[str, str], instance_dir: Path, web: str) -> Iterator[Worker]:
    w = Worker(worker_env, instance_dir / "worker.log")
    w.start()
    yield w
    w.stop()


@pytest.fixture(autouse=True)
def _clean_faults(sandbox: Sandbox) -> Iterator[None]:
    sandbox.clear_faults()
    yield
    sandbox.clear_faults()


def wait_for(predicate: Callable[[], Any], what: str, seconds: float = WAIT_SECONDS) -> Any:
    """The suite's wait (:func:`tests.support.polling.wait_for`), with the integration tests' budget."""
    return polling.wait_for(predicate, what, seconds)


class Driver:
    """Drives cases the way officers and residents do, through the service layer."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def submit(self, id_number: str, form: dict[str, Any], as_user: str = "admin") -> str:
        with self.rt.db.transaction() as session:
            case = submit_case(
                session, self.rt.engine, load_actor(session, as_user), "elderly-care-subsidy", id_number, form
            )
            return case.number

    def case(self, number: str) -> Case:
        with self.rt.db.sessions() as session:
            case = session.scalars(select(Case).where(Case.number == number)).one()
            _ = case.events, case.item  # load before the session closes
            return case

    def wait_status(self, number: str, *statuses: CaseStatus) -> Case:
        wanted = [s.value for s in statuses]
        try:
            return wait_for(
                lambda: (c := self.case(number)).status in statuses and c, f"case {number} to reach {wanted}"
            )
        except AssertionError as exc:  # say where it stands at the end of the wait, not at its start
            raise AssertionError(f"{exc} (it is {self.case(number).status.value})") from None

    def where_they_stand(self, numbers: list[str]) -> str:
        """For a failed wait: each case not concluded, where its instance waits, its messages and
        the callbacks of its case."""
        from SpiffWorkflow.util.task import TaskState

        from exchange.correlation import CallbackRecord
        from exchange.models import OutboxMessage
        from workflows_bpmn.models import ProcessInstance

        lines = []
        with self.rt.db.sessions() as session:
            for case in session.scalars(select(Case).where(Case.number.in_(numbers))):
                if case.status is CaseStatus.CONCLUDED:
                    continue
                instance = session.get(ProcessInstance, case.process_instance_id)
                waiting: list[str] = []
                if instance is not None:
                    workflow = self.rt.engine.load(session, instance.id)
                    live = TaskState.READY | TaskState.STARTED | TaskState.WAITING
                    waiting = [
                        f"{t.task_spec.name}:{TaskState.get_name(t.state)}" for t in workflow.get_tasks(state=live)
                    ]
                messages = session.scalars(
                    select(OutboxMessage).where(OutboxMessage.case_number == case.number).order_by(OutboxMessage.id)
                ).all()
                callbacks = session.scalars(select(CallbackRecord).where(CallbackRecord.case_number == case.number))
                lines.append(
                    f"{case.number} {case.status.value}; instance "
                    f"{instance and (instance.status.value, instance.incident_kind, instance.incident_detail)} "
                    f"at {waiting}; messages "
                    f"{[(m.operation, m.status.value, m.attempts, m.settled_at is not None) for m in messages]}; "
                    f"callbacks {[(c.source.value, c.fact, c.state.value, c.note) for c in callbacks]}"
                )
        return "\n".join(lines)

    def task_of(self, number: str, username: str, *, seconds: float = WAIT_SECONDS) -> str:
        def find() -> str | None:
            with self.rt.db.transaction() as session:
                case_id = session.scalars(select(Case.id).where(Case.number == number)).one()
                mine = [t for t in inbox(session, load_actor(session, username)) if t.case_id == case_id]
                return mine[0].id if mine else None

        return str(wait_for(find, f"a task of {number} for {username}", seconds=seconds))

    def complete(
        self, number: str, username: str, decision: str, *, seconds: float = WAIT_SECONDS, **data: Any
    ) -> None:
        task_id = self.task_of(number, username, seconds=seconds)
        with self.rt.db.transaction() as session:
            complete_task(session, self.rt.engine, load_actor(session, username), task_id, decision, data)


@pytest.fixture()
def driver(runtime: Runtime, worker: Worker) -> Driver:
    return Driver(runtime)
