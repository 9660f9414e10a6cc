"""``huiju demo``: everything on one machine, in one terminal, on the embedded defaults.

Starts the SOAP sandbox, one Celery worker (with the sweep) and the web process as child
processes, prints what runs where and the development accounts, and stops them all on Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request

import click

from huiju.i18n import Message, _
from huiju.settings import Settings, load_settings


def _start(name: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "huiju.cli", *args], env=os.environ.copy())  # noqa: S603


def _wait_http(url: str, seconds: float = 20.0, context: ssl.SSLContext | None = None) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1, context=context) as reply:  # noqa: S310 - our loopback URL
                return bool(reply.status == 200)
        except OSError:
            time.sleep(0.2)
    return False


def client_context(settings: Settings) -> ssl.SSLContext | None:
    """For an HTTPS sandbox: trust our CA and present Huiju's client certificate (mTLS)."""
    if not settings.sandbox_url.startswith("https"):
        return None
    from adapters.tls import ClientTls
    from adapters.tls import client_context as tls_context

    return tls_context(ClientTls.from_store(settings.resolved_certs_folder, "huiju"))


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def run_demo() -> None:
    settings = load_settings()

    def say(text: str | Message = "", *, err: bool = False) -> None:
        click.echo(text.localize(settings.lang) if isinstance(text, Message) else text, err=err)

    # Also when started in the background (SIGINT ignored) or stopped by a supervisor (SIGTERM).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    subprocess.run([sys.executable, "-m", "huiju.cli", "init"], check=True)  # noqa: S603
    children = {
        "sandbox": _start("sandbox", "sandbox"),
        "worker": _start("worker", "worker", "--loglevel=WARNING", "--quiet"),
        "web": _start("web", "serve"),
    }
    try:
        sandbox_ok = _wait_http(f"{settings.sandbox_url}/_sandbox/health", context=client_context(settings))
        web_ok = _wait_http(f"http://{settings.web_host}:{settings.web_port}/healthz")
        silent = _("  NOT ANSWERING")
        say()
        say(_("Huiju is running (Ctrl-C stops everything):"))
        say(_("  sandbox  {url}/  (citizen_info, sms, egov_approval, data_exchange, payment){warning}",
              url=settings.sandbox_url, warning="" if sandbox_ok else silent))  # fmt: skip
        say(_("  web      {url}{warning}", url=f"http://{settings.web_host}:{settings.web_port}/api/v1/items",
              warning="" if web_ok else silent))  # fmt: skip
        say(_("  portal   {url}{warning}", url=f"http://{settings.web_host}:{settings.web_port}/portal/",
              warning="" if web_ok else silent))  # fmt: skip
        say(_("  console  {url}{warning}", url=f"http://{settings.web_host}:{settings.web_port}/console/",
              warning="" if web_ok else silent))  # fmt: skip
        say(_("  worker   celery, broker {broker} (pid {pid})", broker=settings.resolved_broker_url,
              pid=children["worker"].pid))  # fmt: skip
        say(_("  database {url}", url=settings.resolved_database_url))
        say()
        subprocess.run([sys.executable, "-m", "huiju.cli", "accounts"], check=False)  # noqa: S603
        say()
        say(_("Try, in another terminal (with the venv's bin on PATH: . .venv/bin/activate):"))
        say("  huiju case submit --item elderly-care-subsidy --applicant 110105193801012340 \\")
        form = '{"income_band": "subsistence", "disability": "none", "living_alone": true}'
        say(f"      --data '{form}'")
        say("  huiju task list --as officer-chaoyang-01")
        while all(p.poll() is None for p in children.values()):
            time.sleep(0.5)
        dead = [name for name, p in children.items() if p.poll() is not None]
        say(_("stopped: {processes} exited", processes=", ".join(dead)), err=True)
    except KeyboardInterrupt:
        say()
        say(_("stopping ..."))
    finally:
        for p in children.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in children.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
