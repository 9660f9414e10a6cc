"""Benchmark: delivery latency under a burst of cases, with a real worker and the periodic sweep.

A burst of subsidy cases is submitted at once (default 100); each sends its receipt SMS (受理回执),
then the identity check and the person query, each through the outbox, a real Celery worker
(``huiju worker --pool solo`` with its beat, default settings) and signed SOAP over HTTPS with
client certificates to the sandbox, until every case waits at intake: three deliveries per case.

Prints the delivery latency of those messages (from queued to delivered, and to taken by their
step), how long the burst took, and how many delivery jobs the broker carried for how many send
attempts — each message should be queued once (``jobs per attempt`` near 1.00), however long the
queue grows.

Also prints how long the worker spends on one delivery job (from its log: Celery's "succeeded in"),
which tells queueing (a burst waits behind one worker) from slow jobs. ``--pool threads
--concurrency N`` runs the worker with N threads, to see how the latency follows.

Usage: ``python bench/delivery.py [-n CASES] [--postgresql] [--pool solo|threads|prefork]
[--concurrency N]`` (``--postgresql``: PostgreSQL and Redis, throw-away servers, instead of SQLite and
the filesystem broker).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

# Run as a file, Python puts this folder first on sys.path, where exchange.py would shadow the
# exchange package: the repository root goes there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from sqlalchemy import func, select  # noqa: E402

from adapters.sandbox.people import ZHANG_XIUYING  # noqa: E402
from adapters.sandbox.server import SandboxServer  # noqa: E402
from adapters.tls import ServerTls  # noqa: E402
from certs.store import init_dev_pki, load_signing_identity  # noqa: E402
from certs.trust import TrustStore  # noqa: E402
from exchange.models import MessageStatus, OutboxMessage  # noqa: E402
from huiju.app.bootstrap import build_runtime  # noqa: E402
from huiju.app.seed import seed_all  # noqa: E402
from huiju.migrate import upgrade  # noqa: E402
from huiju.models import Case, CaseStatus  # noqa: E402
from huiju.services.actors import load_actor  # noqa: E402
from huiju.services.cases import submit_case  # noqa: E402
from huiju.settings import load_settings  # noqa: E402

FORM = {"income_band": "subsistence", "disability": "none", "living_alone": True}
DELIVERIES_PER_CASE = 3  # receipt SMS, identity check, person query: then the case waits at intake
DEADLINE_SECONDS = 900.0


@contextmanager
def servers(postgresql: bool, folder: Path) -> Iterator[dict[str, str]]:
    if not postgresql:
        yield {}
        return
    from tests.support.servers import PostgresServer, RedisServer

    with PostgresServer() as pg, RedisServer(folder / "redis") as redis:
        yield {"database_url": pg.url, "broker_url": redis.url}


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", type=int, default=100, help="cases in the burst (default 100)")
    parser.add_argument("--postgresql", action="store_true", help="PostgreSQL and Redis instead of SQLite")
    parser.add_argument("--pool", default="solo", choices=("solo", "threads", "prefork"), help="the worker's pool")
    parser.add_argument("--concurrency", type=int, default=1, help="the worker's concurrency (default 1)")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access line per SOAP call otherwise

    with tempfile.TemporaryDirectory(prefix="huiju-delivery-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        backend = stack.enter_context(servers(args.postgresql, folder))
        pki = folder / "certs"
        init_dev_pki(pki)
        sandbox = stack.enter_context(
            SandboxServer(
                trust=TrustStore.load(pki), signer=load_signing_identity(pki, "sandbox"),
                tls=ServerTls.from_store(pki, "sandbox"),
            )
        )  # fmt: skip
        rt = build_runtime(load_settings(env="test", instance_path=folder, **backend))
        upgrade(rt.db)
        with rt.db.transaction() as session:
            seed_all(session, sandbox.url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUIJU_")}
        env.update(HUIJU_ENV="test", HUIJU_INSTANCE_PATH=str(folder),
                   **{f"HUIJU_{key.upper()}": value for key, value in backend.items()})  # fmt: skip
        log_file = folder / "worker.log"
        with log_file.open("wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "huiju.cli", "worker", "--pool", args.pool, "--concurrency",
                 str(args.concurrency), "--loglevel", "INFO"],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            time.sleep(3.0)  # the worker and its beat start; not timed
            began = time.monotonic()
            numbers = []
            for _ in range(args.n):
                with rt.db.transaction() as session:
                    actor = load_actor(session, "officer-chaoyang-01")
                    numbers.append(submit_case(session, rt.engine, actor, "elderly-care-subsidy", ZHANG_XIUYING,
                                               dict(FORM)).number)  # fmt: skip
            submitted = time.monotonic() - began
            while time.monotonic() - began < DEADLINE_SECONDS:
                with rt.db.sessions() as session:
                    at_intake = session.scalar(
                        select(func.count())
                        .select_from(Case)
                        .where(Case.number.in_(numbers), Case.status == CaseStatus.INTAKE)
                    )
                if at_intake == args.n:
                    break
                time.sleep(0.2)
            elapsed = time.monotonic() - began
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        with rt.db.sessions() as session:
            messages = session.scalars(select(OutboxMessage).where(OutboxMessage.case_number.in_(numbers))).all()
        rt.db.dispose()
        log = log_file.read_text(errors="replace").splitlines()
        jobs = sum(1 for line in log if "Task huiju.deliver[" in line and line.rstrip().endswith("received"))
        job_ms = [float(m.group(1)) * 1000 for line in log if "Task huiju.deliver[" in line
                  and (m := re.search(r"succeeded in ([0-9.]+)s", line))]  # fmt: skip

    delivered = [m for m in messages if m.status is MessageStatus.DELIVERED and m.delivered_at is not None]
    to_reply = [(m.delivered_at - m.created_at).total_seconds() * 1000 for m in delivered if m.delivered_at]
    to_step = [(m.settled_at - m.created_at).total_seconds() * 1000 for m in delivered if m.settled_at]
    attempts = sum(m.attempts for m in messages)
    backend_name = "PostgreSQL + Redis" if args.postgresql else "SQLite + filesystem broker"
    pool = f"{args.pool} pool" if args.concurrency == 1 else f"{args.pool} pool, concurrency {args.concurrency}"
    print(f"burst of {args.n} subsidy cases, {backend_name}, one worker ({pool}), signed SOAP over HTTPS")
    print(f"cases at intake {at_intake}/{args.n} after {elapsed:.1f} s (submitting took {submitted:.1f} s)")
    print(f"deliveries {len(delivered)}/{DELIVERIES_PER_CASE * args.n}, send attempts {attempts}, "
          f"delivery jobs {jobs}")  # fmt: skip
    print(f"jobs per attempt {jobs / attempts:.2f}" if attempts else "jobs per attempt -")
    for label, values in (("queued -> delivered", to_reply), ("queued -> taken by its step", to_step)):
        if values:
            print(f"delivery latency, {label}: p50 {percentile(values, 50):,.0f} ms, "
                  f"p95 {percentile(values, 95):,.0f} ms, max {max(values):,.0f} ms")  # fmt: skip
    if job_ms:
        total = sum(job_ms) / 1000
        print(f"worker time per delivery job (call, record, step): p50 {percentile(job_ms, 50):,.0f} ms, "
              f"p95 {percentile(job_ms, 95):,.0f} ms; {len(job_ms)} jobs, {total:.1f} s in all")  # fmt: skip


if __name__ == "__main__":
    main()
