"""`huiju demo` (what `make demo` runs): everything starts, a case moves, Ctrl-C stops it all."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from huiju.app.demo import client_context, sample_materials
from huiju.settings import load_settings
from tests.support.polling import eventually
from tests.support.servers import free_port

pytestmark = pytest.mark.slow


def _get(url: str, context: ssl.SSLContext | None = None) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as reply:  # noqa: S310 - loopback
            return int(reply.status)
    except OSError:
        return 0


@pytest.mark.integration
def test_demo_starts_everything_moves_a_case_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUIJU_")}
    web, sandbox, checkout = free_port(), free_port(), free_port()
    env.update(HUIJU_INSTANCE_PATH=str(tmp_path), HUIJU_WEB_PORT=str(web), HUIJU_SANDBOX_PORT=str(sandbox),
               HUIJU_SANDBOX_CHECKOUT_PORT=str(checkout), HUIJU_LANG="en", HUIJU_ENV="test")  # fmt: skip
    log = (tmp_path / "demo.log").open("wb")
    demo = subprocess.Popen([sys.executable, "-m", "huiju.cli", "demo"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        assert eventually(lambda: _get(f"http://127.0.0.1:{web}/healthz") == 200, 60, every=0.3), (
            "the web process did not start"
        )
        assert _get(f"http://127.0.0.1:{web}/portal/") == 200, "the residents' portal is served"
        assert _get(f"http://127.0.0.1:{web}/console/login/") == 200, "the officers' console is served"
        mtls = client_context(load_settings(instance_path=tmp_path, sandbox_port=sandbox))
        assert mtls is not None, "make demo runs the sandbox in secure mode (HTTPS with client certificates)"
        assert _get(f"https://127.0.0.1:{sandbox}/_sandbox/health", mtls) == 200
        assert _get(f"https://127.0.0.1:{sandbox}/_sandbox/health") == 0  # no client certificate: refused
        # The payment platform's checkout pages: plain HTTP, for a browser without a client certificate.
        with pytest.raises(urllib.error.HTTPError) as unknown:
            urllib.request.urlopen(f"http://127.0.0.1:{checkout}/checkout/PAY-99999999", timeout=2)  # noqa: S310
        assert unknown.value.code == 404 and "PAY-99999999" in unknown.value.read().decode()
        cli = [sys.executable, "-m", "huiju.cli"]
        form = json.dumps({"income_band": "subsistence", "disability": "none", "living_alone": True})
        id_card, register = sample_materials(tmp_path / "samples")  # the files the demo prints for this
        submitted = subprocess.run([*cli, "case", "submit", "--item", "elderly-care-subsidy", "--applicant",
                                    "110105193801012340", "--data", form, "--material", f"id_card={id_card}",
                                    "--material", f"household_register={register}"], env=env, capture_output=True,
                                   text=True, check=True)  # fmt: skip
        number = submitted.stdout.split()[1]

        def at_intake() -> bool:
            shown = subprocess.run([*cli, "case", "show", number], env=env, capture_output=True, text=True)
            return "status    Awaiting acceptance" in shown.stdout  # words, never the code

        assert eventually(at_intake, 60, every=0.3), "the worker did not move the case (signed calls to the sandbox)"
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            code = demo.wait(timeout=30)
        finally:
            if demo.poll() is None:
                os.killpg(demo.pid, signal.SIGKILL)
            log.close()
    assert code == 0, (tmp_path / "demo.log").read_text(errors="replace")[-2000:]
    said = (tmp_path / "demo.log").read_text(errors="replace")
    assert "payments wait for the payer there" in said, "make demo leaves each payment to the person trying it"
    assert _get(f"http://127.0.0.1:{web}/healthz") == 0, "the web process outlived Ctrl-C"
    assert _get(f"https://127.0.0.1:{sandbox}/_sandbox/health", mtls) == 0, "the sandbox outlived Ctrl-C"
