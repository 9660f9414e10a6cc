"""``huiju demo``: everything on one machine, in one terminal, on the embedded defaults.

Starts the SOAP sandbox, one Celery worker (with the sweep) and the web process as child
processes, prints what runs where and the development accounts, and stops them all on Ctrl-C.

The sandbox's payment platform runs with the ``checkout`` payer (:mod:`adapters.sandbox.payments`):
the cash part of an order waits until the person trying the demo pays it on the checkout page that
the order's page links to (去支付), instead of being paid at once by a simulated payer.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import click

from huiju.i18n import Message, _
from huiju.settings import Settings, load_settings


def _start(name: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "huiju.cli", *args], env=os.environ.copy())  # noqa: S603


def wait_http(url: str, seconds: float = 20.0, context: ssl.SSLContext | None = None) -> bool:
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


def _sample_identities() -> list[Any]:
    """Two residents known to the citizen information sandbox, aged 60 or more, without an account
    (the demo applicant has one): what a newcomer can register with."""
    from adapters.sandbox.people import seeded_people
    from huiju.app.seed import DEMO_APPLICANT

    found = [p for p in seeded_people() if p.id_number != DEMO_APPLICANT and p.birth_date.year <= 1965]
    return found[:2]


def _png() -> bytes:
    """A one-pixel grey PNG (PNG 1.2: signature, IHDR, IDAT, IEND, each chunk with its CRC-32)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = (1).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])  # 1×1, 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\x80")) + chunk(b"IEND", b"")
    )


def sample_materials(folder: Path) -> tuple[Path, Path]:
    """Two sample files to attach as materials from the command line (a photo of an ID card, a scan)."""
    from huiju.services.document_pdf import Layout, render

    folder.mkdir(parents=True, exist_ok=True)
    id_card, register = folder / "身份证.png", folder / "户口簿.pdf"
    if not id_card.exists():
        id_card.write_bytes(_png())
    if not register.exists():
        layout = Layout(issuer="", title="户口簿（样例）", number="", addressee="", paragraphs=["演示用的样例材料。"],
                        items=[], closing=[], date="", footer=[], subject="sample")  # fmt: skip
        register.write_bytes(render(layout))
    return id_card, register


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
        "sandbox": _start("sandbox", "sandbox", "--payer", "checkout"),  # a person pays, on the checkout page
        "worker": _start("worker", "worker", "--loglevel=WARNING", "--quiet"),
        "web": _start("web", "serve"),
    }
    try:
        sandbox_ok = wait_http(f"{settings.sandbox_url}/_sandbox/health", context=client_context(settings))
        web_ok = wait_http(f"http://{settings.web_host}:{settings.web_port}/healthz")
        silent = _("  NOT ANSWERING")
        say()
        say(_("Huiju is running (Ctrl-C stops everything):"))
        say(_("  sandbox  {url}/  (citizen_info, sms, egov_approval, data_exchange, payment){warning}",
              url=settings.sandbox_url, warning="" if sandbox_ok else silent))  # fmt: skip
        say(_("  checkout {url}/checkout/...  (the payment platform's pages: an order's cash part waits for "
              "you to pay it there, from the order's page)", url=settings.sandbox_checkout_url))  # fmt: skip
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
        id_card, register = sample_materials(settings.instance_path / "samples")
        say("  huiju case submit --item elderly-care-subsidy --applicant 110105193801012340 \\")
        form = '{"income_band": "subsistence", "disability": "none", "living_alone": true}'
        say(f"      --data '{form}' \\")
        say(f"      --material id_card={id_card} --material household_register={register}")
        say("  huiju task list --as officer-chaoyang-01")
        say()
        say(_("Texts the sandbox's SMS platform received (registration codes, notices with document links):"))
        say("  huiju sandbox sms [--phone 13...]")
        say(_("Register in the portal as one of these residents (the code comes by SMS to the phone shown):"))
        for person in _sample_identities():
            say(_("  {name}  ID number {id_number}  phone {phone}", name=person.name, id_number=person.id_number,
                  phone=person.phone))  # fmt: skip
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
