"""`huiju demo-scale` (what `make demo-scale` runs): PostgreSQL, Redis, two workers, two gunicorn
processes and the sandbox start; a case moves; both web processes report the same figures; Ctrl-C
stops it all, the database and the broker last."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from huiju.app.demo import sample_materials
from tests.support.polling import eventually
from tests.support.servers import free_port

pytestmark = pytest.mark.slow


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:  # noqa: S310 - loopback
            return int(reply.status), reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def _group(pgid: int) -> list[str]:
    """The command lines of the processes of one process group."""
    return [command for command, _niceness in _processes(pgid)]


def _processes(pgid: int) -> list[tuple[str, int]]:
    """The command line and niceness (CPU priority) of each live process of one process group."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            # A zombie has exited already; it waits only for its parent (here perhaps a container's
            # init that never reaps) to read its status.
            if int(fields[2]) == pgid and fields[0] != "Z":
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append((command, int(fields[16])))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def instance() -> Iterator[Path]:
    """Not under pytest's private temporary folder: the postgres user must reach the data folder."""
    folder = Path(tempfile.mkdtemp(prefix="huiju-demo-scale-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.integration
def test_demo_scale_starts_everything_moves_a_case_and_stops_on_ctrl_c(instance: Path) -> None:
    tmp_path = instance
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUIJU_")}
    web, sandbox, pg, redis, checkout = free_port(), free_port(), free_port(), free_port(), free_port()
    env.update(HUIJU_INSTANCE_PATH=str(tmp_path), HUIJU_WEB_PORT=str(web), HUIJU_SANDBOX_PORT=str(sandbox),
               HUIJU_SANDBOX_CHECKOUT_PORT=str(checkout),
               HUIJU_DEMO_POSTGRES_PORT=str(pg), HUIJU_DEMO_REDIS_PORT=str(redis), HUIJU_LANG="en",
               HUIJU_ENV="test")  # fmt: skip
    log = (tmp_path / "demo.log").open("wb")
    demo = subprocess.Popen([sys.executable, "-m", "huiju.cli", "demo-scale"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        healthy = eventually(lambda: _get(f"http://127.0.0.1:{web}/healthz")[0] == 200, 180, every=0.5)
        assert healthy, _get(f"http://127.0.0.1:{web}/healthz")[1] or "the web processes did not start"
        parts = json.loads(_get(f"http://127.0.0.1:{web}/healthz")[1])["parts"]
        assert {"database", "broker", "system:citizen_info", "system:egov_approval", "outbox"} <= set(parts)
        assert _get(f"http://127.0.0.1:{web}/portal/")[0] == 200
        assert _get(f"http://127.0.0.1:{web}/console/login/")[0] == 200
        unknown = _get(f"http://127.0.0.1:{checkout}/checkout/PAY-99999999")  # the platform's checkout, plain HTTP
        assert unknown[0] == 404 and "PAY-99999999" in unknown[1]
        processes = _group(demo.pid)
        # Two worker nodes (each with its pool process; one also runs the sweep), gunicorn's master and
        # its two web processes (forked: the same command line).
        nodes = {re.search(r"--name (\S+)", p).group(1) for p in processes if "huiju.cli worker" in p}  # type: ignore[union-attr]
        assert nodes == {"huiju-1@%h", "huiju-2@%h"}, processes
        assert sum("-m gunicorn" in p for p in processes) == 3, processes
        # The workers yield the CPU to the web processes (HUIJU_WORKER_NICENESS, 10 by default).
        ours = [
            (command, nice) for command, nice in _processes(demo.pid) if "huiju.cli" in command or "gunicorn" in command
        ]
        assert {nice for command, nice in ours if "huiju.cli worker" in command} == {10}, ours
        assert {nice for command, nice in ours if "huiju.cli worker" not in command} == {0}, ours

        scaled = {**env, "HUIJU_INSTANCE_PATH": str(tmp_path / "scale"),
                  "HUIJU_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{pg}/huiju",
                  "HUIJU_BROKER_URL": f"redis://127.0.0.1:{redis}/0"}  # fmt: skip
        cli = [sys.executable, "-m", "huiju.cli"]
        form = json.dumps({"income_band": "subsistence", "disability": "none", "living_alone": True})
        id_card, register = sample_materials(tmp_path / "samples")  # the files the demo prints for this
        submitted = subprocess.run([*cli, "case", "submit", "--item", "elderly-care-subsidy", "--applicant",
                                    "110105193801012340", "--data", form, "--material", f"id_card={id_card}",
                                    "--material", f"household_register={register}"], env=scaled, capture_output=True,
                                   text=True, check=True)  # fmt: skip
        number = submitted.stdout.split()[1]

        def at_intake() -> bool:
            shown = subprocess.run([*cli, "case", "show", number], env=scaled, capture_output=True, text=True)
            return "status    Awaiting acceptance" in shown.stdout  # words, never the code

        assert eventually(at_intake, 120, every=0.5), "the workers did not move the case (signed calls to the sandbox)"

        def figures() -> str:
            return _get(f"http://127.0.0.1:{web}/metrics")[1]

        # Requests go round gunicorn's processes: each one tells the same, read from the database.
        seen = {next(line for line in figures().splitlines() if line.startswith("huiju_cases_started_total"))
                for _ in range(6)}  # fmt: skip
        assert seen == {"huiju_cases_started_total 1.0"}
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            code = demo.wait(timeout=90)
        finally:
            if demo.poll() is None:
                os.killpg(demo.pid, signal.SIGKILL)
            log.close()
    assert code == 0, (tmp_path / "demo.log").read_text(errors="replace")[-3000:]
    for port, what in ((web, "web"), (sandbox, "sandbox"), (checkout, "checkout"), (pg, "PostgreSQL"),
                       (redis, "Redis")):  # fmt: skip
        assert not _listening(port), f"{what} outlived Ctrl-C"
    assert _group(demo.pid) == []
