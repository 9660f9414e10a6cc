"""A secure sandbox (mTLS, signed messages) on a PKI of the test's own, a runtime that trusts it, and
a small SOAP peer that plays an uploaded system (the housing system of ``housing.wsdl``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from adapters import soapserver as soap
from adapters.sandbox.server import SandboxServer
from adapters.tls import ServerTls
from certs.store import init_dev_pki, load_signing_identity
from certs.trust import TrustStore
from huiju.app.bootstrap import build_runtime
from huiju.runtime import Runtime
from huiju.settings import load_settings
from tests.support.seeded import seeded_copy

HOUSING_WSDL = Path(__file__).with_name("housing.wsdl")
HOUSING_NS = "urn:example:gov:housing:1"


@contextmanager
def secure_sandbox(folder: Path) -> Iterator[SandboxServer]:
    init_dev_pki(folder)
    server = SandboxServer(trust=TrustStore.load(folder), signer=load_signing_identity(folder, "sandbox"),
                           tls=ServerTls.from_store(folder, "sandbox"))  # fmt: skip
    with server:
        yield server


def secure_runtime(instance: Path, pki: Path) -> Runtime:
    """A copy of the seeded database, signing with the PKI in ``pki`` (the sandbox's)."""
    seeded_copy(instance)
    settings = load_settings(instance_path=instance, env="test", exchange_signing=True, certs_folder=pki)
    return build_runtime(settings, with_celery=False)


@dataclass
class HousingPeer:
    """Answers QueryHousing and Ping as the housing system would (plain SOAP, header echoed)."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)

    def app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        parsed = soap.parse_request(request.get_data(cache=False))
        self.received.append({"operation": parsed.operation, **parsed.values, "header": parsed.header})
        if parsed.operation == "Ping":
            content = soap.element(HOUSING_NS, "PingResponse", {"ok": True})
        else:
            holds = parsed.values.get("idNumber", "").endswith("0")
            content = soap.element(HOUSING_NS, "QueryHousingResponse",
                                   {"holdsPublicHousing": holds, "area": "58.50" if holds else None})  # fmt: skip
        body = soap.envelope(content, parsed.header_element)
        return Response(body, 200, content_type="text/xml; charset=utf-8")(environ, start_response)


@contextmanager
def housing_peer() -> Iterator[HousingPeer]:
    peer = HousingPeer()
    server = make_server("127.0.0.1", 0, peer.app, threaded=True)
    peer.url = f"http://127.0.0.1:{server.server_port}/housing"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
