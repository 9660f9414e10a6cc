"""Benchmark: the officer's and the street reviewer's inbox with 1k to 1M open tasks.

Four databases of one backend are filled with 1,000 / 10,000 / 100,000 / 1,000,000 open tasks over
500 communities (50 streets of 10), rows written in bulk with SQLAlchemy Core (``bench.inbox_data``).
Then the first page of an inbox (25 rows, soonest due first) is read again and again, the four
sizes interleaved request by request so that a busy machine slows them alike, through three doors:

- ``service``: :func:`huiju.services.worklist.inbox_page` in a read-only session;
- ``api``: ``GET /api/v1/tasks`` through the WSGI app (HTTP Basic, a cheap password hash);
- ``console``: ``GET /console/inbox/`` of a signed-in officer, the page rendered.

Prints p50 and p95 per size, role and door, and the lines ``growth ... p95(1M)/p95(1k) X.XX``.
Targets: growth <= 1.5 and p95 < 20 ms for both roles.

Usage: ``python bench/inbox.py [--quick] [--backend sqlite|postgresql|both] [--rounds N]``;
``--quick`` measures 1k and 10k only (a smoke test of the script).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

# Run as a file, Python puts this folder first on sys.path, where exchange.py would shadow the
# exchange package: the repository root goes there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import Connection  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from bench.inbox_data import Offices, TaskFactory, add_offices, add_residents  # noqa: E402
from huiju.app.bootstrap import build_runtime  # noqa: E402
from huiju.app.seed import seed_all  # noqa: E402
from huiju.app.web import create_app  # noqa: E402
from huiju.migrate import upgrade  # noqa: E402
from huiju.runtime import Runtime  # noqa: E402
from huiju.services.actors import Actor, load_actor  # noqa: E402
from huiju.services.worklist import InboxFilter, inbox_page  # noqa: E402
from huiju.settings import load_settings  # noqa: E402

SIZES = (1_000, 10_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000)
STREETS, COMMUNITIES_PER_STREET, RESIDENTS_PER_COMMUNITY = 50, 10, 20
LOAD_BATCH = 50_000
PASSWORD = "bench-inbox"  # noqa: S105 - accounts of a throw-away database
#: Accounts signed in per size and role: the requests go round them.
SAMPLED_OFFICES = 8
DOORS = ("service", "api", "console")
ROLES = ("officer", "reviewer")


@dataclass
class Office:
    username: str
    actor: Actor
    console: FlaskClient


@dataclass
class Sized:
    size: int
    runtime: Runtime
    api: FlaskClient
    offices: dict[str, list[Office]]


def _label(size: int) -> str:
    return f"{size // 1_000_000}M" if size >= 1_000_000 else f"{size // 1_000}k"


@contextmanager
def _databases(backend: str, folder: Path, count: int) -> Iterator[list[str]]:
    if backend == "sqlite":
        yield [f"sqlite:///{folder / f'inbox-{i}.db'}" for i in range(count)]
        return
    from tests.support.servers import PostgresServer

    with PostgresServer() as server:
        urls = [server.url]
        for i in range(1, count):
            with _admin(server.url) as conn:
                conn.execute(text(f"CREATE DATABASE huiju_{i}"))
            urls.append(server.url.rsplit("/", 1)[0] + f"/huiju_{i}")
        yield urls


@contextmanager
def _admin(url: str) -> Iterator[Connection]:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def _fill(url: str, folder: Path, size: int, say: Callable[[str], None]) -> Sized:
    rt = build_runtime(load_settings(instance_path=folder, database_url=url, env="test"), with_celery=False)
    upgrade(rt.db)
    with rt.db.transaction() as session:
        seed_all(session, "http://127.0.0.1:9/")
    rng = random.Random(size)
    started = time.perf_counter()
    with rt.db.engine.begin() as conn:
        cheap = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
        offices = add_offices(conn, STREETS, COMMUNITIES_PER_STREET, password_hash=cheap)
        factory = TaskFactory(conn, offices, add_residents(conn, offices, RESIDENTS_PER_COMMUNITY, rng), rng)
    for written in range(0, size, LOAD_BATCH):  # a transaction per batch: SQLite's WAL stays small
        with rt.db.engine.begin() as conn:
            if rt.db.is_sqlite:  # the indexes' pages in memory while a batch goes in
                conn.exec_driver_sql("PRAGMA cache_size=-262144")
            factory.add(min(LOAD_BATCH, size - written), conn)
    if rt.db.is_sqlite:  # the statistics an operator's `PRAGMA optimize` keeps; autovacuum on PostgreSQL
        with rt.db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    else:
        with rt.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    say(f"  {_label(size):>3} open tasks written in {time.perf_counter() - started:.0f} s")
    app = create_app(rt, {"TESTING": True})
    sized = Sized(size, rt, app.test_client(), {})
    picked = _sample(offices, rng)
    with rt.db.sessions() as session:
        for role, usernames in picked.items():
            sized.offices[role] = []
            for username in usernames:
                console = app.test_client()
                _sign_in(console, username)
                sized.offices[role].append(Office(username, load_actor(session, username), console))
    return sized


def _sample(offices: Offices, rng: random.Random) -> dict[str, list[str]]:
    return {
        "officer": rng.sample(sorted(offices.officers.values()), SAMPLED_OFFICES),
        "reviewer": rng.sample(sorted(offices.reviewers.values()), SAMPLED_OFFICES),
    }


def _sign_in(client: FlaskClient, username: str) -> None:
    page = client.get("/console/login/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    data = {"username": username, "password": PASSWORD, "csrf_token": token.group(1) if token else ""}
    reply = client.post("/console/login/", data=data)
    if reply.status_code not in (302, 303):
        raise RuntimeError(f"{username} could not sign in to the console ({reply.status_code})")


def _basic(username: str) -> dict[str, str]:
    import base64

    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{PASSWORD}".encode()).decode()}


def _request(sized: Sized, door: str, office: Office) -> None:
    if door == "service":
        with sized.runtime.db.sessions() as session:
            page = inbox_page(session, office.actor, InboxFilter())
            if not page.rows and sized.size >= 10_000:
                raise RuntimeError(f"{office.username} has an empty inbox with {sized.size} tasks")
        return
    if door == "api":
        reply = sized.api.get("/api/v1/tasks", headers=_basic(office.username))
    else:
        reply = office.console.get("/console/inbox/")
    if reply.status_code != 200:
        raise RuntimeError(f"{door} answered {reply.status_code} for {office.username}")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(backend: str, sizes: tuple[int, ...], rounds: int, say: Callable[[str], None]) -> dict[tuple[str, str], float]:
    """Fill, then measure interleaved; prints the figures; returns the growth per (role, door)."""
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="huiju-bench-inbox-")))
        urls = stack.enter_context(_databases(backend, folder, len(sizes)))
        say(f"{backend}: filling {len(sizes)} databases ({', '.join(_label(s) for s in sizes)} open tasks)")
        pairs = enumerate(zip(urls, sizes, strict=True))
        filled = [_fill(url, folder / f"i{i}", size, say) for i, (url, size) in pairs]
        try:
            times: dict[tuple[int, str, str], list[float]] = {}
            for sized in filled:  # warm up: caches, compiled statements, templates
                for role in ROLES:
                    for door in DOORS:
                        for office in sized.offices[role][:2]:
                            _request(sized, door, office)
            for n in range(rounds):
                for role in ROLES:
                    for door in DOORS:
                        for sized in filled:
                            office = sized.offices[role][n % SAMPLED_OFFICES]
                            started = time.perf_counter()
                            _request(sized, door, office)
                            times.setdefault((sized.size, role, door), []).append(time.perf_counter() - started)
        finally:
            for sized in filled:
                sized.runtime.db.dispose()
    growth: dict[tuple[str, str], float] = {}
    for role in ROLES:
        for door in DOORS:
            for size in sizes:
                values = times[(size, role, door)]
                p50, p95 = statistics.median(values) * 1000, _percentile(values, 0.95) * 1000
                say(f"inbox {backend} {role:<8} {door:<7} {_label(size):>3} open tasks  p50 {p50:6.2f} ms  "
                    f"p95 {p95:6.2f} ms")  # fmt: skip
            first, last = sizes[0], sizes[-1]
            ratio = _percentile(times[(last, role, door)], 0.95) / _percentile(times[(first, role, door)], 0.95)
            growth[(role, door)] = ratio
            say(f"growth {backend} {role:<8} {door:<7} p95({_label(last)})/p95({_label(first)}) {ratio:.2f}")
    return growth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k and 10k open tasks only")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=None, help="requests per size, role and door")
    args = parser.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else SIZES
    rounds = args.rounds or (40 if args.quick else 200)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        run(backend, sizes, rounds, lambda line: print(line, flush=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
