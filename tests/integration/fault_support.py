"""The moving parts of the fault-injection test: Huiju's processes and the sandbox as real processes
that can be killed with SIGKILL and started again, and a driver that plays officers through the
service layer and shrugs off a database that is restarting.

A module of its own rather than ``from conftest import ...`` (several test folders have a conftest.py).
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from huiju.errors import ConflictError
from huiju.models import Case
from huiju.runtime import Runtime
from huiju.services.actors import load_actor
from huiju.services.cases import submit_case
from huiju.services.tasks import complete_task, inbox

T = TypeVar("T")


@dataclass
class Service:
    """One ``python -m huiju.cli ...`` process in a process group of its own."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    ready: Callable[[], bool] | None = None
    process: subprocess.Popen[bytes] | None = None
    kills: int = 0
    starts: int = 0

    def start(self, *, wait: float = 60.0) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "huiju.cli", *self.argv], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.starts += 1
        if self.ready is not None:
            deadline = time.monotonic() + wait
            while not self.ready():
                if self.process.poll() is not None:
                    raise AssertionError(f"{self.name} exited with {self.process.returncode}: see {self.log}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"{self.name} not ready after {wait} s: see {self.log}")
                time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL the process and whatever it started, as the loss of the machine would."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)
        self.kills += 1

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # what outlived it (an embedded beat)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)


def answers(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as reply:  # noqa: S310 - loopback
            return bool(reply.status == 200)
    except (OSError, urllib.error.URLError):
        return False


@dataclass
class Control:
    """The sandbox's control API (behind the same mTLS as its SOAP services); retried while it restarts."""

    url: str
    context: ssl.SSLContext | None

    def request(self, method: str, path: str, body: Any = None, *, seconds: float = 60.0) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        deadline = time.monotonic() + seconds
        while True:
            req = urllib.request.Request(  # noqa: S310 - loopback
                f"{self.url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(req, timeout=10, context=self.context) as reply:  # noqa: S310
                    raw = reply.read()
                    return json.loads(raw) if raw else None
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def retrying(step: Callable[[], T], what: str, seconds: float = 120.0) -> T:
    """Run a database step again while the database restarts or another step wins a race."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return step()
        except (OperationalError, DBAPIError, StaleDataError):
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: the database did not come back") from None
            time.sleep(0.3)


@dataclass
class Officers:
    """Officers and the street reviewer deciding cases through the service layer, like the console."""

    rt: Runtime
    done: set[tuple[str, str]] = field(default_factory=set)  # (case number, user) decided

    def submit(self, id_number: str, form: dict[str, Any]) -> str:
        def step() -> str:
            with self.rt.db.transaction() as session:
                actor = load_actor(session, "admin")
                return submit_case(session, self.rt.engine, actor, "elderly-care-subsidy", id_number, form).number

        return retrying(step, "submit a case")

    def decide_ready(self, username: str, decision: str, numbers: set[str]) -> int:
        """Complete every task of ``numbers`` in the user's inbox; how many were completed."""

        def tasks() -> list[tuple[str, str]]:
            with self.rt.db.transaction() as session:
                actor = load_actor(session, username)
                ids = {task.case_id: task.id for task in inbox(session, actor)}
                if not ids:
                    return []
                found = session.execute(select(Case.id, Case.number).where(Case.id.in_(list(ids))))
                return [(ids[case_id], number) for case_id, number in found if number in numbers]

        completed = 0
        for task_id, number in retrying(tasks, f"{username}'s inbox"):
            if (number, username) in self.done:
                continue

            def step(task_id: str = task_id) -> None:
                with self.rt.db.transaction() as session:
                    complete_task(session, self.rt.engine, load_actor(session, username), task_id, decision, {})

            try:
                retrying(step, f"{username} decides {number}")
            except ConflictError:  # decided already: a retry after a commit the database lost the answer to
                pass
            self.done.add((number, username))
            completed += 1
        return completed
