"""``huiju demo``: everything on one machine, in one terminal, on the embedded defaults.

Starts the SOAP sandbox, one Celery worker (with the sweep) and the web process as child
processes, prints what runs where and the development accounts, and stops them all on Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import click

from huiju.settings import load_settings


def _start(name: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "huiju.cli", *args], env=os.environ.copy())  # noqa: S603


def _wait_http(url: str, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:  # noqa: S310 - loopback URL of our own
                return bool(reply.status == 200)
        except OSError:
            time.sleep(0.2)
    return False


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def run_demo() -> None:
    settings = load_settings()
    # Also when started in the background (SIGINT ignored) or stopped by a supervisor (SIGTERM).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    subprocess.run([sys.executable, "-m", "huiju.cli", "init"], check=True)  # noqa: S603
    children = {
        "sandbox": _start("sandbox", "sandbox"),
        "worker": _start("worker", "worker", "--loglevel=WARNING"),
        "web": _start("web", "serve"),
    }
    try:
        sandbox_ok = _wait_http(f"{settings.sandbox_url}/_sandbox/health")
        web_ok = _wait_http(f"http://{settings.web_host}:{settings.web_port}/healthz")
        click.echo("")
        click.echo("Huiju is running (Ctrl-C stops everything):")
        click.echo(f"  sandbox  {settings.sandbox_url}/  (citizen_info, sms, egov_approval, data_exchange)"
                   f"{'' if sandbox_ok else '  NOT ANSWERING'}")
        click.echo(f"  web      http://{settings.web_host}:{settings.web_port}/api/v1/items"
                   f"{'' if web_ok else '  NOT ANSWERING'}")
        click.echo(f"  worker   celery, broker {settings.resolved_broker_url} (pid {children['worker'].pid})")
        click.echo(f"  database {settings.resolved_database_url}")
        click.echo("")
        subprocess.run([sys.executable, "-m", "huiju.cli", "accounts"], check=False)  # noqa: S603
        click.echo("")
        click.echo("Try, in another terminal (with the venv's bin on PATH: . .venv/bin/activate):")
        click.echo("  huiju case submit --item elderly-care-subsidy --applicant 110105193801012340 \\")
        form = '{"income_band": "subsistence", "disability": "none", "living_alone": true}'
        click.echo(f"      --data '{form}'")
        click.echo("  huiju task list --as officer-chaoyang-01")
        while all(p.poll() is None for p in children.values()):
            time.sleep(0.5)
        dead = [name for name, p in children.items() if p.poll() is not None]
        click.echo(f"stopped: {', '.join(dead)} exited", err=True)
    except KeyboardInterrupt:
        click.echo("\nstopping ...")
    finally:
        for p in children.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in children.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
