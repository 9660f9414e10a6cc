"""Benchmark: 50 residents at once on the portal, against gunicorn, for a bounded time.

The platform runs as it does scaled out (PostgreSQL, Redis, gunicorn with two web processes, one
worker, the sandbox in secure mode), on loopback. Each simulated resident, in a thread of its own with
its own cookies, goes round sessions: sign in (the production password hash), then three times the
start page, the item's page, an application started, filled in with its two materials and submitted,
the new case and "my cases"; sign out. Like a person, a resident reads each page a moment before the
next click (``--think``, 1 s on average). Every answer is checked (status, and where it leads);
anything else counts as an error, with its cause.

Residents arrive one by one at random moments of the first ``--ramp`` seconds (15 s, about one
session), as people do, not all in the same millisecond: started together, the fifty signed in at
once and stayed in step, so that a wave of sign-ins and submissions came round every session. The
figures are of the ``--seconds`` that follow, with every resident at work; what was answered while
they arrived is printed on a line of its own (``warm-up``), not counted in them, and so is each
10 s stretch's p95, which shows whether the load was even.

The worker runs at its default CPU priority (``HUIJU_WORKER_NICENESS``, 10: it yields the CPU to
the web processes, as it does wherever both share a machine), and so does the sandbox, which stands
in for government systems that run on machines of their own. What the worker then takes longer to
do shows on the last line: once the residents stop, the bench waits until every call their cases
made has been delivered, and prints, for the calls of the measured time, how long each waited from
enqueue to delivery.

Prints requests per second, p50 and p95 of all requests and of each kind, errors, and the worker's
line. Target: 0 errors and p95 < 150 ms.

Usage: ``python bench/portal.py [--residents N] [--seconds S] [--ramp S] [--worker-niceness N] [--quick]``.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Run as a file, Python puts this folder first on sys.path, where exchange.py would shadow the
# exchange package: the repository root goes there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import requests  # noqa: E402
from PIL import Image  # noqa: E402
from sqlalchemy import create_engine, func, select  # noqa: E402
from stdnum.cn import ric  # noqa: E402

from bench.inbox_data import SURNAMES, id_number  # noqa: E402
from exchange.models import MessageStatus, OutboxMessage  # noqa: E402
from huiju.app.bootstrap import build_runtime  # noqa: E402
from huiju.app.seed import DEMO_APPLICANT  # noqa: E402
from huiju.models import Resident, Role, User  # noqa: E402
from huiju.settings import load_settings  # noqa: E402
from tests.support.servers import PostgresServer, RedisServer, free_port  # noqa: E402

ITEM = "elderly-care-subsidy"
APPLICATIONS_PER_SESSION = 3
PASSWORD = "bench-portal-2026"  # noqa: S105 - accounts of a throw-away database
#: The sandbox's CPU priority (see ``_platform``); the worker runs at its default, HUIJU_WORKER_NICENESS.
SANDBOX_NICENESS = 10
#: How long the worker may take, after the residents stop, to deliver what they caused.
DRAIN_SECONDS = 120.0


def _scan() -> bytes:
    """A real picture the size of a phone's photo of an ID card (the portal decodes and re-encodes it)."""
    out = io.BytesIO()
    Image.new("RGB", (640, 400), (236, 232, 220)).save(out, "PNG")
    return out.getvalue()


PNG = _scan()
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_DRAFT = re.compile(r"/portal/drafts/(\d+)$")
_CASE = re.compile(r"/portal/cases/([A-Z0-9]+)$")


@dataclass
class Tally:
    #: Requests sent before this moment (``time.monotonic()``), while residents still arrive, are
    #: counted apart as the warm-up.
    measuring_from: float = 0.0
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    #: When each measured request was sent, and how long its answer took.
    stamps: list[tuple[float, float]] = field(default_factory=list)
    warm_up: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    #: What the errors were: an HTTP status, or the exception's name.
    causes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, sent: float, seconds: float, ok: bool, cause: str = "") -> None:
        with self.lock:
            if sent < self.measuring_from:
                self.warm_up.append(seconds)
            else:
                self.times[kind].append(seconds)
                self.stamps.append((sent, seconds))
            if not ok:
                self.errors[kind] += 1
                self.causes[f"{kind}: {cause}"] += 1


class Resident_:
    """One simulated resident: a session with cookies, going round the portal until told to stop."""

    def __init__(self, base: str, login: str, tally: Tally, think: float, seed: int) -> None:
        self.base, self.login, self.tally, self.think = base, login, tally, think
        self.rng = random.Random(seed)
        self.http = requests.Session()
        self.http.trust_env = False

    def _call(self, kind: str, method: str, path: str, expect: int, **kwargs: object) -> requests.Response | None:
        sent, started = time.monotonic(), time.perf_counter()
        try:
            reply = self.http.request(method, self.base + path, allow_redirects=False, timeout=30, **kwargs)  # type: ignore[arg-type]
        except requests.RequestException as exc:
            self.tally.add(kind, sent, time.perf_counter() - started, False, type(exc).__name__)
            return None
        ok = reply.status_code == expect
        self.tally.add(kind, sent, time.perf_counter() - started, ok, f"HTTP {reply.status_code}")
        return reply if ok else None

    def _token(self, page: requests.Response | None) -> str:
        found = _TOKEN.search(page.text) if page is not None else None
        return found.group(1) if found else ""

    def _pause(self) -> None:
        """A person reads the page before the next click."""
        if self.think:
            time.sleep(self.rng.uniform(0.5 * self.think, 1.5 * self.think))

    def sign_in(self) -> bool:
        login = self._call("sign-in page", "GET", "/portal/login", 200)
        self._pause()
        credentials = {"login": self.login, "password": PASSWORD, "csrf_token": self._token(login)}
        return self._call("sign in", "POST", "/portal/login", 302, data=credentials) is not None

    def apply_and_read(self) -> requests.Response | None:
        """Start page, the item, an application filled in with its materials and submitted, the new
        case and "my cases"; the last page read (its form's token signs out)."""
        self._call("start page", "GET", "/portal/", 200)
        self._pause()
        item = self._call("item page", "GET", f"/portal/items/{ITEM}", 200)
        self._pause()
        started = self._call("start application", "POST", f"/portal/items/{ITEM}/apply", 302,
                             data={"csrf_token": self._token(item)})  # fmt: skip
        draft = _DRAFT.search(started.headers.get("Location", "")) if started is not None else None
        if draft is None:
            return None
        path = f"/portal/drafts/{draft.group(1)}"
        form = self._call("application form", "GET", path, 200)
        self._pause()
        submitted = self._call(
            "submit application", "POST", path, 302,
            data={"csrf_token": self._token(form), "action": "submit", "income_band": "subsistence",
                  "disability": "none", "living_alone": "true"},
            files={"file_id_card": ("id.png", PNG, "image/png"),
                   "file_household_register": ("hk.png", PNG, "image/png")},
        )  # fmt: skip
        if submitted is None:
            return None
        case = _CASE.search(submitted.headers.get("Location", ""))
        if case is None:  # answered, but not with the new case
            self.tally.add("submit application", time.monotonic(), 0.0, False,
                           f"to {submitted.headers.get('Location')}")  # fmt: skip
            return None
        page = self._call("case page", "GET", f"/portal/cases/{case.group(1)}", 200)
        self._pause()
        mine = self._call("my cases", "GET", "/portal/cases", 200)
        self._pause()
        return mine or page

    def run(self, arrives: float, until: float) -> None:
        """From the moment the resident arrives, sessions until the time is up: sign in, apply and
        read a few times, sign out."""
        time.sleep(max(0.0, arrives - time.monotonic()))
        while time.monotonic() < until:
            if not self.sign_in():
                continue
            last = None
            for _ in range(APPLICATIONS_PER_SESSION):
                if time.monotonic() >= until:
                    break
                last = self.apply_and_read() or last
            if last is None:  # no page with a form came back this session (its errors are counted)
                last = self._call("start page", "GET", "/portal/", 200)
            self._call("sign out", "POST", "/portal/logout", 302, data={"csrf_token": self._token(last)})


def _huiju(env: dict[str, str], *args: str, log: Path, niceness: int = 0) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "huiju.cli", *args], env=env, stdout=out,  # noqa: S603
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=(lambda: os.nice(niceness)) if niceness else None)  # fmt: skip


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:  # noqa: S310 - loopback
            return bool(reply.status == 200)
    except OSError:
        return False


@contextmanager
def _platform(
    folder: Path, residents: int, worker_niceness: int | None, web_processes: int = 2
) -> Iterator[tuple[str, list[str], str]]:
    with ExitStack() as stack:
        pg: PostgresServer = stack.enter_context(PostgresServer())  # type: ignore[arg-type]  # its __exit__ takes any
        redis = stack.enter_context(RedisServer(folder / "redis"))
        web_port, sandbox_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUIJU_")}
        env.update(HUIJU_ENV="test", HUIJU_INSTANCE_PATH=str(folder), HUIJU_DATABASE_URL=pg.url,
                   HUIJU_BROKER_URL=redis.url, HUIJU_WEB_PORT=str(web_port), HUIJU_SANDBOX_PORT=str(sandbox_port),
                   HUIJU_SANDBOX_CHECKOUT_PORT=str(free_port()), HUIJU_LOG_LEVEL="WARNING")  # fmt: skip
        subprocess.run([sys.executable, "-m", "huiju.cli", "init"], env=env, check=True,  # noqa: S603
                       stdout=subprocess.DEVNULL)  # fmt: skip
        logins = _residents(load_settings(env="test", instance_path=folder, database_url=pg.url), residents)
        for process in (
            # The government systems run on their own machines: here, on the same two cores, their
            # stand-in takes what CPU the platform leaves.
            _huiju(env, "sandbox", log=folder / "sandbox.log", niceness=SANDBOX_NICENESS),
            _huiju(
                env,
                "worker",
                "--loglevel",
                "WARNING",
                *(["--nice", str(worker_niceness)] if worker_niceness is not None else []),
                log=folder / "worker.log",
            ),
            _huiju(env, "serve", "--processes", str(web_processes), log=folder / "web.log"),
        ):
            stack.callback(_stop, process)
        base = f"http://127.0.0.1:{web_port}"
        deadline = time.monotonic() + 120
        while not _healthy(f"{base}/healthz"):
            if time.monotonic() > deadline:
                raise RuntimeError("the web processes did not become healthy")
            time.sleep(0.5)
        yield base, logins, pg.url


def _residents(settings: object, count: int) -> list[str]:
    """``count`` resident accounts in the demo applicant's community (password hashed as in production)."""
    rt = build_runtime(settings, with_celery=False)  # type: ignore[arg-type]
    logins = []
    try:
        with rt.db.transaction() as session:
            home = session.scalars(select(Resident.community_id).where(Resident.id_number == DEMO_APPLICANT)).one()
            for n in range(count):
                number = id_number(500_000 + n)
                resident = Resident(id_number=number, name=f"{SURNAMES[n % len(SURNAMES)]}测试{n}",
                                    phone=f"1370000{n:04d}", birth_date=ric.get_birth_date(number),
                                    community_id=home)  # fmt: skip
                user = User(username=f"bench-resident-{n}", display_name=resident.name, role=Role.RESIDENT,
                            org_id=home, resident=resident)  # fmt: skip
                user.set_password(PASSWORD)
                session.add_all([resident, user])
                logins.append(user.username)
    finally:
        rt.db.dispose()
    return logins


@dataclass
class Backlog:
    """What the worker did with the calls the residents' cases made (its share of the same CPU)."""

    calls: int
    p50: float
    p95: float
    #: Seconds after the residents stopped until no call was left to deliver (None: not within
    #: DRAIN_SECONDS).
    drained_after: float | None


def _backlog(database_url: str, since: datetime, stopped: float) -> Backlog:
    """Wait until the worker has delivered every call (or DRAIN_SECONDS), then measure, for the calls
    made since ``since``, the time from enqueue to delivery."""
    engine = create_engine(database_url)
    pending = select(func.count()).where(OutboxMessage.status == MessageStatus.PENDING)
    drained_after: float | None = None
    try:
        while time.monotonic() < stopped + DRAIN_SECONDS:
            with engine.connect() as connection:
                if not connection.scalar(pending):
                    drained_after = max(0.0, time.monotonic() - stopped)
                    break
            time.sleep(0.2)
        with engine.connect() as connection:
            rows = connection.execute(
                select(OutboxMessage.created_at, OutboxMessage.delivered_at).where(
                    OutboxMessage.created_at >= since, OutboxMessage.delivered_at.is_not(None)
                )
            ).all()
    finally:
        engine.dispose()
    waits = [(delivered - created).total_seconds() for created, delivered in rows if delivered is not None]
    return Backlog(len(waits), statistics.median(waits) if waits else 0.0, _percentile(waits, 0.95), drained_after)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--residents", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the residents go round")
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="seconds a resident reads a page before the next click, on average (0: none)",
    )
    parser.add_argument("--ramp", type=float, default=15.0,
                        help="seconds over which the residents arrive, before the measured time")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="10 residents for 10 s, arriving over 5 s")
    parser.add_argument(
        "--worker-niceness",
        type=int,
        default=None,
        help="the worker's CPU priority (default: its own default, HUIJU_WORKER_NICENESS)",
    )
    parser.add_argument("--web-processes", type=int, default=2, help="gunicorn's web processes (default 2)")
    args = parser.parse_args(argv)
    residents, seconds, ramp = (10, 10.0, 5.0) if args.quick else (args.residents, args.seconds, args.ramp)
    folder = Path(tempfile.mkdtemp(prefix="huiju-bench-portal-"))
    folder.chmod(0o755)
    tally = Tally()
    try:
        with _platform(folder, residents, args.worker_niceness, args.web_processes) as (base, logins, database_url):
            now = time.monotonic()
            tally.measuring_from, until = now + ramp, now + ramp + seconds
            measured_since = datetime.now(UTC) + timedelta(seconds=ramp)
            arrivals = random.Random(2026)
            people = [Resident_(base, login, tally, args.think, n) for n, login in enumerate(logins)]
            threads = [threading.Thread(target=person.run, args=(now + arrivals.uniform(0, ramp), until))
                       for person in people]  # fmt: skip
            for t in threads:
                t.start()
            for t in threads:
                t.join(ramp + seconds + 120)
            elapsed = time.monotonic() - tally.measuring_from
            backlog = _backlog(database_url, measured_since, time.monotonic())
    finally:
        errors = sum(tally.errors.values())
        if errors:  # the web processes' log tells why
            print(f"portal: errors seen; the logs stay in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    every = [s for values in tally.times.values() for s in values]
    print(
        f"portal {residents} residents for {seconds:.0f} s (reading each page {args.think:.1f} s on average; "
        f"arriving over the {ramp:.0f} s before) against gunicorn ({args.web_processes} processes), PostgreSQL + Redis"
    )
    if tally.warm_up:
        warm = tally.warm_up
        print(f"portal warm-up, while residents arrived (not counted): {len(warm)} requests  "
              f"p50 {statistics.median(warm) * 1000:.1f} ms  p95 {_percentile(warm, 0.95) * 1000:.1f} ms")  # fmt: skip
    for kind, values in sorted(tally.times.items()):
        print(f"portal {kind:<20} {len(values):6d} requests  p50 {statistics.median(values) * 1000:7.1f} ms  "
              f"p95 {_percentile(values, 0.95) * 1000:7.1f} ms  errors {tally.errors.get(kind, 0)}")  # fmt: skip
    print(f"portal requests/s {len(every) / elapsed:.1f}")
    print(f"portal p50 {statistics.median(every) * 1000:.1f} ms" if every else "portal p50 -")
    print(f"portal p95 {_percentile(every, 0.95) * 1000:.1f} ms")
    stretches = defaultdict(list)
    last = max(0, int(seconds // 10) - 1)  # a sign-out sent as the time ran out counts in the last stretch
    for sent, took in tally.stamps:
        stretches[min(last, int((sent - tally.measuring_from) // 10))].append(took)
    print(
        "portal p95 of each 10 s: "
        + ", ".join(f"{_percentile(v, 0.95) * 1000:.0f}" for _, v in sorted(stretches.items()))
        + " ms"
    )
    print(f"portal errors {errors}")
    drained = (
        f"{backlog.drained_after:.1f} s" if backlog.drained_after is not None else f"not within {DRAIN_SECONDS:.0f} s"
    )
    print(f"worker: {backlog.calls} calls delivered, from enqueue to delivery p50 {backlog.p50:.2f} s, "
          f"p95 {backlog.p95:.2f} s; every call delivered {drained} after the residents stopped")  # fmt: skip
    for cause, n in sorted(tally.causes.items()):
        print(f"portal error  {cause}: {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
