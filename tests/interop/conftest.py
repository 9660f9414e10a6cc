"""The interop kit's fixtures: Huiju's real web process and the real sandbox (plain, and secure with
mTLS) on loopback, a development PKI with two partner members, and the partner clients built from
the published WSDLs (Java by wsimport and javac, Node.js from the npm registry).

The kits are driven as a partner would run them: processes given URLs, key files and arguments.
``make test`` installs what they need (Debian's default-jdk-headless, jaxws, libxml-security-java
and the kit's npm packages); without them these tests fail and say what to install.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from werkzeug.serving import make_server

from adapters.config import AdapterConfig
from adapters.sandbox.server import SandboxServer
from adapters.tls import ServerTls
from certs.store import init_dev_pki, load_signing_identity
from certs.trust import TrustStore
from huiju import migrate
from huiju.app.bootstrap import build_runtime
from huiju.app.seed import seed_all
from huiju.app.web import create_app
from huiju.runtime import Runtime
from huiju.settings import load_settings
from tests.inbound.conftest import waiting_case
from tests.interop.material import PartnerFiles, add_partner, export
from workflows_bpmn.models import WaitingMessage

ROOT = Path(__file__).parents[2]
KIT = ROOT / "interop"
JAVA_PARTNER = "partner-java"
NODE_PARTNER = "partner-node"
SYSTEMS = ("citizen_info", "sms", "egov_approval", "data_exchange")


def need(tool: str, why: str) -> str:
    found = shutil.which(tool)
    if found is None:
        pytest.fail(f"{tool} is missing: {why} (make test installs it)")
    return found


@dataclass
class Huiju:
    """Huiju's web process on loopback, over its own instance folder and the shared development PKI."""

    runtime: Runtime
    url: str

    @property
    def inbound_url(self) -> str:
        return f"{self.url}/exchange/soap"

    def waiting_case(self, partner: str) -> tuple[str, str]:
        """A case waiting for the extranet's decision, the extranet's calls to be signed by ``partner``
        (an integrator's setting: the member on record for the system); (case number, receipt)."""
        with self.runtime.db.transaction() as session:
            session.execute(
                update(AdapterConfig).where(AdapterConfig.system == "egov_approval").values(partner=partner)
            )
        number, _case_id, _instance_id, receipt = waiting_case(self.runtime)
        return number, receipt

    def waits(self, case_number: str) -> bool:
        """Whether the case still waits for the extranet's decision."""
        with self.runtime.db.sessions() as session:
            found = session.scalars(
                select(WaitingMessage.id).where(
                    WaitingMessage.name == "egov_decision", WaitingMessage.correlation_value == case_number
                )
            ).first()
            return found is not None


@pytest.fixture(scope="session")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("interop") / "instance"
    folder.mkdir()
    pki = folder / "certs"
    init_dev_pki(pki)
    add_partner(pki, JAVA_PARTNER, key_type="ec")
    add_partner(pki, NODE_PARTNER, key_type="rsa")  # node soap's WSSecurityCert signs with RSA only
    return folder


@pytest.fixture(scope="session")
def pki(instance: Path) -> Path:
    return instance / "certs"


@pytest.fixture(scope="session")
def java_files(pki: Path, tmp_path_factory: pytest.TempPathFactory) -> PartnerFiles:
    return export(pki, JAVA_PARTNER, tmp_path_factory.mktemp("java-partner"))


@pytest.fixture(scope="session")
def node_files(pki: Path, tmp_path_factory: pytest.TempPathFactory) -> PartnerFiles:
    return export(pki, NODE_PARTNER, tmp_path_factory.mktemp("node-partner"))


@pytest.fixture(scope="session")
def plain_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


@pytest.fixture(scope="session")
def secure_sandbox(pki: Path) -> Iterator[SandboxServer]:
    """Secure mode: HTTPS with client certificates, signed messages only."""
    server = SandboxServer(trust=TrustStore.load(pki), signer=load_signing_identity(pki, "sandbox"),
                           tls=ServerTls.from_store(pki, "sandbox"))  # fmt: skip
    with server:
        yield server


@pytest.fixture(scope="session")
def huiju(instance: Path) -> Iterator[Huiju]:
    runtime = build_runtime(load_settings(instance_path=instance, env="test"), with_celery=False)
    migrate.upgrade(runtime.db)
    with runtime.db.transaction() as session:
        seed_all(session, "http://127.0.0.1:9")
    server = make_server("127.0.0.1", 0, create_app(runtime, {"TESTING": True}), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="huiju-web", daemon=True)
    thread.start()
    try:
        yield Huiju(runtime, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        runtime.db.dispose()


def run_json(command: list[str], *, cwd: Path | None = None, timeout: float = 120) -> tuple[int, dict[str, Any]]:
    """Run a kit command; its last stdout line is a JSON object. (exit code, that object)."""
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON from {command[:4]}...: exit {result.returncode}\n{result.stdout}\n{result.stderr[-3000:]}"
    return result.returncode, json.loads(lines[-1])


# -- the Java partner --------------------------------------------------------------------------------


@dataclass(frozen=True)
class JavaKit:
    classes: Path
    classpath: str

    def run(self, *args: str) -> tuple[int, dict[str, Any]]:
        java = need("java", "the Java partner runs on Debian's default-jdk-headless")
        return run_json([java, "-cp", f"{self.classes}:{self.classpath}", "org.huiju.interop.Partner", *args])


@pytest.fixture(scope="session")
def java_kit(plain_sandbox: SandboxServer, huiju: Huiju, tmp_path_factory: pytest.TempPathFactory) -> JavaKit:
    """The Java partner, generated by wsimport from the WSDLs as served (the sandbox's citizen_info and
    Huiju's /exchange/soap) and compiled with the kit's sources."""
    need("wsimport", "the Java partner is generated by Debian's jaxws")
    need("javac", "the Java partner is compiled by Debian's default-jdk-headless")
    out = tmp_path_factory.mktemp("java-kit")
    build = KIT / "java" / "build.sh"
    result = subprocess.run(
        [str(build), f"{plain_sandbox.url}/citizen_info?wsdl", f"{huiju.inbound_url}?wsdl", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    classpath = subprocess.run([str(KIT / "java" / "classpath.sh")], capture_output=True, text=True, check=True)
    return JavaKit(out / "classes", classpath.stdout.strip())


# -- the Node.js partner -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeKit:
    script: Path

    def run(self, *args: str) -> tuple[int, dict[str, Any]]:
        node = need("node", "the Node.js partner runs on node")
        return run_json([node, str(self.script), *args], cwd=self.script.parent)


@pytest.fixture(scope="session")
def node_kit() -> NodeKit:
    folder = KIT / "node"
    if not (folder / "node_modules" / "soap").is_dir():
        pytest.fail("the Node.js partner's packages are missing: run make interop-deps (npm ci in interop/node)")
    return NodeKit(folder / "partner.js")
