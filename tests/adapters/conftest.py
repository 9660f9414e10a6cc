"""Fixtures for the adapter tests: one real sandbox over loopback HTTP for the whole session.

Signed exchange: a development PKI for the session (members huiju and sandbox, plus certificates
made to be refused: another CA's, a revoked one, an expired one, a TLS certificate), a sandbox in
secure mode, and a small hostile server whose answers a test programs.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from adapters.config import AdapterSettings
from adapters.receiver import ReceiverSecurity, signed_reply, verified_request
from adapters.sandbox.server import SandboxServer
from adapters.soapserver import element
from certs.store import (
    Role,
    SigningIdentity,
    active_certificate,
    init_dev_pki,
    issue_certificate,
    load_private_key,
    load_signing_identity,
    revoke,
)
from certs.trust import TrustStore
from tests.support.servers import serving


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(port=0) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean_sandbox(sandbox: SandboxServer) -> None:
    sandbox.state.reset()


@pytest.fixture
def settings_for(sandbox: SandboxServer) -> Callable[..., AdapterSettings]:
    def make(system: str, **overrides: Any) -> AdapterSettings:
        values: dict[str, Any] = {"connect_timeout": 2.0, "operation_timeout": 5.0, **overrides}
        return AdapterSettings.for_sandbox(system, sandbox.url, **values)

    return make


@pytest.fixture
def new_id() -> Callable[[], str]:
    return lambda: f"test-{uuid.uuid4()}"


@pytest.fixture
def control(sandbox: SandboxServer) -> Iterator[requests.Session]:
    """A plain HTTP session for the sandbox's JSON control API and raw SOAP posts."""
    with requests.Session() as session:
        session.trust_env = False
        yield session


@pytest.fixture
def inject(sandbox: SandboxServer, control: requests.Session) -> Callable[..., None]:
    """Add a fault rule through the control API, as an operator or a benchmark would."""

    def add(**rule: Any) -> None:
        response = control.post(f"{sandbox.url}/_sandbox/faults", json=rule, timeout=5)
        assert response.status_code == 201, response.text

    return add


# --- signed exchange -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    folder: Path
    trust: TrustStore
    huiju: SigningIdentity
    sandbox: SigningIdentity
    foreign: SigningIdentity  # a signing certificate of another CA
    revoked: SigningIdentity
    expired: SigningIdentity
    tls: SigningIdentity  # huiju's TLS client key and certificate, misused for signing


def _identity(folder: Path, member: str, role: Role) -> SigningIdentity:
    info = active_certificate(folder, member, role)
    cert_pem = (folder / info.cert_file).read_text()
    return SigningIdentity(
        member=member,
        info=info,
        key=load_private_key(folder, info),
        certificate=x509.load_pem_x509_certificate(cert_pem.encode()),
        chain_pem=(cert_pem, (folder / "ca.cert.pem").read_text()),
    )


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    init_dev_pki(folder)
    issue_certificate(folder, "revoked", "signing")
    revoked = load_signing_identity(folder, "revoked")
    revoke(folder, revoked.info.serial, "keyCompromise")
    issue_certificate(folder, "expired", "signing", not_before=datetime.now(UTC) - timedelta(days=10), days=1)
    expired = load_signing_identity(folder, "expired")
    other = tmp_path_factory.mktemp("other-pki")
    init_dev_pki(other)
    return Pki(
        folder=folder,
        trust=TrustStore.load(folder),  # loaded after the revocation: the CRL lists it
        huiju=load_signing_identity(folder, "huiju"),
        sandbox=load_signing_identity(folder, "sandbox"),
        foreign=load_signing_identity(other, "huiju"),
        revoked=revoked,
        expired=expired,
        tls=_identity(folder, "huiju", "tls-client"),
    )


@pytest.fixture(scope="session")
def secure_server(pki: Pki) -> Iterator[SandboxServer]:
    with SandboxServer(port=0, trust=pki.trust, signer=pki.sandbox, max_skew_seconds=300) as server:
        yield server


@pytest.fixture
def secure_sandbox(secure_server: SandboxServer) -> SandboxServer:
    """The sandbox in secure mode, emptied for each test."""
    secure_server.state.reset()
    return secure_server


@pytest.fixture
def secure_settings_for(secure_sandbox: SandboxServer) -> Callable[..., AdapterSettings]:
    def make(system: str, **overrides: Any) -> AdapterSettings:
        values: dict[str, Any] = {"connect_timeout": 2.0, "operation_timeout": 5.0, **overrides}
        return AdapterSettings.for_sandbox(system, secure_sandbox.url, **values)

    return make


Responder = Callable[[bytes], tuple[int, bytes]]


@dataclass
class HostileServer:
    """A SOAP peer that answers whatever ``responder(request bytes)`` returns, and keeps what passed."""

    url: str
    responder: Responder = field(default=lambda _request: (500, b"no responder set"))
    received: list[bytes] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)

    def settings(self, system: str) -> AdapterSettings:
        return AdapterSettings.for_sandbox(system, self.url, connect_timeout=2.0, operation_timeout=5.0)


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    peer = HostileServer(url="")

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        data = request.get_data(cache=False)
        peer.received.append(data)
        status, body = peer.responder(data)
        peer.sent.append(body)
        return Response(body, status=status, content_type="text/xml; charset=utf-8")(environ, start_response)

    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    peer.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, name="hostile-peer", daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


INBOUND_NS = "urn:huiju:inbound:1"


@dataclass
class Receiver:
    """Huiju's inbound endpoint, reduced to what a callback sender needs: a signed 'accepted'."""

    url: str = ""
    accepting: bool = False
    received: list[str] = field(default_factory=list)  # message ids of the callbacks accepted


@pytest.fixture
def receiver(pki: Pki) -> Iterator[Receiver]:
    peer = Receiver()
    security = ReceiverSecurity(pki.trust, pki.huiju, member="huiju")

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        data = Request(environ).get_data(cache=False)
        if not peer.accepting:  # down: no answer a sender could take for one
            return Response("unavailable", status=503)(environ, start_response)
        request = verified_request(data, security, limit=512 * 1024, now=datetime.now(UTC))
        peer.received.append(request.header["messageId"])
        reply = element(INBOUND_NS, f"{request.operation}Response", {"accepted": "true"})
        body = signed_reply(security, reply, request=data, limit=512 * 1024, echo=request.header, system="huiju",
                            message_id=request.header["messageId"])  # fmt: skip
        return Response(body, content_type="text/xml; charset=utf-8")(environ, start_response)

    with serving(app) as url:
        peer.url = f"{url}/exchange/soap"
        yield peer
