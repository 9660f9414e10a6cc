"""Benchmark: concluded subsidy cases per second end to end, with one and with two workers.

Everything runs as it does scaled out (``make demo-scale``), on loopback: PostgreSQL and Redis (throw-
away servers of Debian's packages), the sandbox in secure mode answering every call after 100 ms (its
latency control: real government systems are that slow), gunicorn with two web processes (the
extranet's decisions come back to it as signed callbacks), and ``huiju worker`` processes. A burst of
subsidy applications is submitted through the service layer; officers and reviewers decide their
tasks through the service layer as soon as they appear; a case counts when it is concluded (every
SOAP call made, the decision called back, the resident told).

Rounds with one and with two workers alternate (1, 2, 2, 1 ...), so that a busy machine slows both
alike. Prints cases per second of each, the delivery latency of the burst, and ``scale factor X.XX``
(two workers ÷ one). Target: factor >= 1.8.

Usage: ``python bench/scale.py [--cases N] [--rounds R] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Run as a file, Python puts this folder first on sys.path, where exchange.py would shadow the
# exchange package: the repository root goes there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from sqlalchemy import func, select  # noqa: E402

from adapters.tls import ClientTls, client_context  # noqa: E402
from exchange.models import MessageStatus, OutboxMessage  # noqa: E402
from huiju.app.bootstrap import build_runtime  # noqa: E402
from huiju.app.seed import DEMO_APPLICANT  # noqa: E402
from huiju.models import Case, CaseStatus  # noqa: E402
from huiju.runtime import Runtime  # noqa: E402
from huiju.services.actors import load_actor  # noqa: E402
from huiju.services.cases import submit_case  # noqa: E402
from huiju.services.tasks import complete_task  # noqa: E402
from huiju.settings import load_settings  # noqa: E402
from tests.support.servers import PostgresServer, RedisServer, free_port  # noqa: E402
from workflows_bpmn.models import HumanTask, HumanTaskStatus  # noqa: E402

ITEM = "elderly-care-subsidy"
FORM = {"income_band": "subsistence", "disability": "none", "living_alone": True}
APPLICANT, OFFICER, REVIEWER = "resident-zhang", "officer-chaoyang-01", "reviewer-wangjing-01"
DECISIONS = {"intake": (OFFICER, "accept"), "street_review": (REVIEWER, "approve")}
SANDBOX_LATENCY = 0.1
ROUND_LIMIT = 900.0


@dataclass
class Round:
    workers: int
    cases: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.cases / self.seconds


def _huiju(env: dict[str, str], *args: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "huiju.cli", *args], env=env, stdout=out,  # noqa: S603
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    try:  # whatever of its group is left (an embedded beat, a pool process)
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _wait(predicate: Any, what: str, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:  # noqa: S310 - loopback
            return bool(reply.status == 200)
    except OSError:
        return False


@contextmanager
def _platform(folder: Path) -> Iterator[tuple[Runtime, dict[str, str]]]:
    """PostgreSQL, Redis, the sandbox (100 ms a call) and gunicorn; the driver's runtime and the env
    of the processes."""
    with ExitStack() as stack:
        pg: PostgresServer = stack.enter_context(PostgresServer())  # type: ignore[arg-type]  # its __exit__ takes any
        redis = stack.enter_context(RedisServer(folder / "redis"))
        web_port, sandbox_port, inbound_port = free_port(), free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUIJU_")}
        # The callbacks come back as in production: over mutual TLS to the inbound listener that
        # gunicorn's master starts beside its web processes.
        env.update(HUIJU_ENV="test", HUIJU_INSTANCE_PATH=str(folder), HUIJU_DATABASE_URL=pg.url,
                   HUIJU_BROKER_URL=redis.url, HUIJU_WEB_PORT=str(web_port), HUIJU_SANDBOX_PORT=str(sandbox_port),
                   HUIJU_INBOUND_MTLS="true", HUIJU_INBOUND_PORT=str(inbound_port),
                   HUIJU_SANDBOX_CHECKOUT_PORT=str(free_port()), HUIJU_SWEEP_SECONDS="1",
                   HUIJU_LOG_LEVEL="WARNING")  # fmt: skip
        subprocess.run([sys.executable, "-m", "huiju.cli", "init"], env=env, check=True,  # noqa: S603
                       stdout=subprocess.DEVNULL)  # fmt: skip
        sandbox = _huiju(env, "sandbox", log=folder / "sandbox.log")
        stack.callback(_stop, sandbox)
        web = _huiju(env, "serve", "--processes", "2", log=folder / "web.log")
        stack.callback(_stop, web)
        _wait(lambda: _healthy(f"http://127.0.0.1:{web_port}/healthz"), "the web processes and the sandbox")
        _sandbox_latency(folder, sandbox_port, SANDBOX_LATENCY)
        settings = load_settings(env="test", instance_path=folder, database_url=pg.url, broker_url=redis.url,
                                 web_port=web_port, sandbox_port=sandbox_port, inbound_mtls=True,
                                 inbound_port=inbound_port)  # fmt: skip
        rt = build_runtime(settings)
        stack.callback(rt.db.dispose)
        yield rt, env


def _sandbox_latency(folder: Path, port: int, seconds: float) -> None:
    """Every call is answered ``seconds`` late (the sandbox's control API, behind the same mTLS)."""
    context = client_context(ClientTls.from_store(folder / "certs", "huiju"))
    rule = json.dumps({"operation": "*", "mode": "delay", "count": None, "seconds": seconds}).encode()
    request = urllib.request.Request(f"https://127.0.0.1:{port}/_sandbox/faults", data=rule, method="POST",  # noqa: S310
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=10, context=context) as reply:  # noqa: S310 - loopback
        if reply.status not in (200, 201, 204):
            raise RuntimeError(f"the sandbox refused the latency rule ({reply.status})")


def _workers(env: dict[str, str], count: int, folder: Path) -> list[subprocess.Popen[bytes]]:
    started = []
    for n in range(1, count + 1):
        extra = [] if n == 1 else ["--no-beat"]  # one sweep for the lot
        started.append(_huiju(env, "worker", "--pool", "solo", "--loglevel", "WARNING", "--name",
                              f"bench-{n}@%h", *extra, log=folder / f"worker-{n}.log"))  # fmt: skip
    return started


def _ready(rt: Runtime, count: int) -> bool:
    replies = rt.celery.control.ping(timeout=1.0)
    return len(replies or []) >= count


def run_round(rt: Runtime, env: dict[str, str], folder: Path, workers: int, cases: int) -> Round:
    procs = _workers(env, workers, folder)
    try:
        _wait(lambda: _ready(rt, workers), f"{workers} worker(s) to answer")
        with rt.db.sessions() as session:
            actors = {name: load_actor(session, name) for name in (APPLICANT, OFFICER, REVIEWER)}
        began = time.perf_counter()
        ids: list[int] = []
        for _ in range(cases):
            with rt.db.transaction() as session:
                case = submit_case(session, rt.engine, actors[APPLICANT], ITEM, DEMO_APPLICANT, dict(FORM))
                ids.append(case.id)
        deadline = time.monotonic() + ROUND_LIMIT
        while True:
            with rt.db.sessions() as session:
                done = session.scalar(
                    select(func.count()).select_from(Case).where(Case.id.in_(ids), Case.status == CaseStatus.CONCLUDED)
                )
                ready = session.execute(
                    select(HumanTask.id, HumanTask.step).where(
                        HumanTask.case_id.in_(ids), HumanTask.status == HumanTaskStatus.READY,
                        HumanTask.step.in_(list(DECISIONS)),
                    )
                ).all()  # fmt: skip
            if done == cases:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {done} of {cases} cases concluded after {ROUND_LIMIT:.0f} s")
            for task_id, step in ready:
                username, decision = DECISIONS[step]
                with rt.db.transaction() as session:
                    complete_task(session, rt.engine, actors[username], task_id, decision, {})
            if not ready:
                time.sleep(0.05)
        seconds = time.perf_counter() - began
    finally:
        for p in procs:
            _stop(p)
    return Round(workers, cases, seconds, _latencies(rt, ids))


def _latencies(rt: Runtime, case_ids: list[int]) -> list[float]:
    with rt.db.sessions() as session:
        numbers = list(session.scalars(select(Case.number).where(Case.id.in_(case_ids))))
        rows = session.execute(
            select(OutboxMessage.created_at, OutboxMessage.delivered_at).where(
                OutboxMessage.case_number.in_(numbers), OutboxMessage.status == MessageStatus.DELIVERED
            )
        ).all()
    return [(d - c).total_seconds() for c, d in rows if d is not None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=40, help="cases in each round's burst (default 40)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each worker count (default 2)")
    parser.add_argument("--quick", action="store_true", help="10 cases, one round each")
    args = parser.parse_args(argv)
    cases, rounds = (10, 1) if args.quick else (args.cases, args.rounds)
    order = [1, 2, 2, 1] * ((rounds + 1) // 2) if rounds > 1 else [1, 2]
    folder = Path(tempfile.mkdtemp(prefix="huiju-bench-scale-"))
    folder.chmod(0o755)
    results: list[Round] = []
    try:
        with _platform(folder) as (rt, env):
            print(f"scale: PostgreSQL + Redis, sandbox answering after {SANDBOX_LATENCY * 1000:.0f} ms, "
                  f"gunicorn 2 processes, bursts of {cases} cases", flush=True)  # fmt: skip
            for workers in order[: rounds * 2]:
                done = run_round(rt, env, folder, workers, cases)
                results.append(done)
                p50, p95 = _quantiles(done.latencies)
                line = (f"scale round {workers} worker(s): {cases} cases concluded in {done.seconds:.1f} s, "
                        f"{done.rate:.2f} cases/s; delivery latency p50 {p50:.2f} s p95 {p95:.2f} s")  # fmt: skip
                print(line, flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    rates = {w: statistics.mean(r.rate for r in results if r.workers == w) for w in (1, 2)}
    print(f"scale 1 worker  {rates[1]:.2f} cases/s")
    print(f"scale 2 workers {rates[2]:.2f} cases/s")
    print(f"scale factor {rates[2] / rates[1]:.2f}")
    return 0


def _quantiles(values: list[float]) -> tuple[float, float]:
    if not values:
        return 0.0, 0.0
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


if __name__ == "__main__":
    raise SystemExit(main())
