"""``huiju demo-scale``: the scale-out on one machine, on PostgreSQL and Redis from Debian's packages.

Like ``huiju demo`` (same accounts, same data, same sandbox), but the database is a PostgreSQL
cluster and the broker a Redis server of their own, on loopback, kept in ``<instance>/scale/``
between runs; two Celery workers (one runs the periodic sweep) and gunicorn with two web processes.
PostgreSQL and Redis run in sessions of their own, so that Ctrl-C reaches Huiju's processes first;
they are stopped last, once nothing uses them. As root, PostgreSQL runs as the ``postgres`` user
(``initdb`` refuses root), through ``runuser``. Unlike ``huiju demo``, the sandbox's payer pays at
once unless ``HUIJU_SANDBOX_PAYER=checkout`` says otherwise: a run at scale places orders by machine.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click

from huiju.app.demo import client_context, wait_http
from huiju.errors import ConfigurationError
from huiju.i18n import Message, _
from huiju.settings import Settings, load_settings

WORKERS = 2
WEB_PROCESSES = 2
Say = Callable[..., None]


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise ConfigurationError(_("PostgreSQL is not installed: apt-get install postgresql (make demo-scale does)"))
    return Path(found[-1]).parent


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _wait_port(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


class Postgres:
    """A cluster in ``folder/data``, created on first use, listening on 127.0.0.1 only."""

    def __init__(self, folder: Path, port: int) -> None:
        self.bin = _postgres_bin()
        self.folder, self.port = folder, port
        self.data = folder / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/huiju"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*_as_postgres(), *args], capture_output=True, text=True, check=False)  # noqa: S603

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        if not (self.data / "PG_VERSION").exists():
            done = self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                             "-E", "UTF8", "--locale=C.UTF-8")  # fmt: skip
            if done.returncode:
                raise ConfigurationError(_("initdb failed: {error}", error=done.stderr.strip()[-400:]))
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        # A session of its own: Ctrl-C in the terminal must not stop the database under the workers.
        done = subprocess.run(  # noqa: S603
            [*_as_postgres(), str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
             "-l", str(self.folder / "server.log"), "-w", "start"],
            capture_output=True, text=True, check=False, start_new_session=True,
        )  # fmt: skip
        if done.returncode or not _wait_port(self.port, 30):
            raise ConfigurationError(_("PostgreSQL did not start: see {log}", log=str(self.folder / "server.log")))
        exists = self._run(str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                           "-tAc", "SELECT 1 FROM pg_database WHERE datname = 'huiju'")  # fmt: skip
        if exists.stdout.strip() != "1":
            self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "huiju")

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


class Redis:
    def __init__(self, folder: Path, port: int) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ConfigurationError(_("Redis is not installed: apt-get install redis-server (make demo-scale does)"))
        self.binary, self.folder, self.port = binary, folder, port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = (self.folder / "redis.log").open("ab")
        # Jobs survive a restart of the demo (append-only file), as they would in production.
        self.process = subprocess.Popen(  # noqa: S603
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--appendonly", "yes", "--save", ""],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        if not _wait_port(self.port, 20):
            raise ConfigurationError(_("Redis did not start: see {log}", log=str(self.folder / "redis.log")))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _child(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "huiju.cli", *args], env=env)  # noqa: S603


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def run_demo_scale() -> None:
    base = load_settings()
    folder = base.instance_path.resolve() / "scale"

    def say(text: str | Message = "", *, err: bool = False) -> None:
        click.echo(text.localize(base.lang) if isinstance(text, Message) else text, err=err)

    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    postgres = Postgres(folder / "postgres", base.demo_postgres_port)
    redis = Redis(folder / "redis", base.demo_redis_port)
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        say(_("starting PostgreSQL on 127.0.0.1:{port} and Redis on 127.0.0.1:{redis} ...",
              port=postgres.port, redis=redis.port))  # fmt: skip
        postgres.start()
        redis.start()
        env = {**os.environ, "HUIJU_INSTANCE_PATH": str(folder), "HUIJU_DATABASE_URL": postgres.url,
               "HUIJU_BROKER_URL": redis.url}  # fmt: skip
        settings = load_settings(instance_path=folder, database_url=postgres.url, broker_url=redis.url)
        subprocess.run([sys.executable, "-m", "huiju.cli", "init"], env=env, check=True)  # noqa: S603
        children["sandbox"] = _child(env, "sandbox")
        for n in range(1, WORKERS + 1):
            # One worker runs the periodic sweep (beat); two would sweep twice as often.
            extra = [] if n == 1 else ["--no-beat"]
            children[f"worker-{n}"] = _child(env, "worker", "--loglevel=WARNING", "--quiet", "--name",
                                             f"huiju-{n}@%h", *extra)  # fmt: skip
        children["web"] = _child(env, "serve", "--processes", str(WEB_PROCESSES))
        _announce(settings, say, children)
        while all(p.poll() is None for p in children.values()):
            time.sleep(0.5)
        dead = [name for name, p in children.items() if p.poll() is not None]
        say(_("stopped: {processes} exited", processes=", ".join(dead)), err=True)
    except KeyboardInterrupt:
        say()
        say(_("stopping ..."))
    finally:
        _stop(children)
        redis.stop()
        postgres.stop()


def _announce(settings: Settings, say: Say, children: dict[str, subprocess.Popen[bytes]]) -> None:
    sandbox_ok = wait_http(f"{settings.sandbox_url}/_sandbox/health", context=client_context(settings))
    web = f"http://{settings.web_host}:{settings.web_port}"
    web_ok = wait_http(f"{web}/healthz", seconds=90)
    silent = _("  NOT ANSWERING")
    say()
    say(_("Huiju is running, scaled out (Ctrl-C stops everything):"))
    say(_("  sandbox  {url}/  (citizen_info, sms, egov_approval, data_exchange, payment){warning}",
          url=settings.sandbox_url, warning="" if sandbox_ok else silent))  # fmt: skip
    say(_("  checkout {url}/checkout/...  (the payment platform's pages where payers pay)",
          url=settings.sandbox_checkout_url))  # fmt: skip
    say(_("  web      {url}{warning}", url=f"{web}/api/v1/items", warning="" if web_ok else silent))
    say(_("  portal   {url}{warning}", url=f"{web}/portal/", warning="" if web_ok else silent))
    say(_("  console  {url}{warning}", url=f"{web}/console/", warning="" if web_ok else silent))
    say(_("  web      gunicorn, {count} processes; {url}/healthz and {url}/metrics", count=WEB_PROCESSES, url=web))
    workers = ", ".join(str(p.pid) for name, p in children.items() if name.startswith("worker"))
    say(_("  workers  {count} celery workers (pids {pids}), broker {broker}",
          count=WORKERS, pids=workers, broker=settings.resolved_broker_url))  # fmt: skip
    say(_("  database {url}", url=settings.resolved_database_url))
    say()
    subprocess.run([sys.executable, "-m", "huiju.cli", "accounts"], check=False)  # noqa: S603


def _stop(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for p in children.values():
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in children.values():
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)
