"""Secure mode: the inbound endpoint served over mutual TLS (a client certificate of a trusted member
required), callbacks to an https:// URL, http:// adapter endpoints refused; in production a secret key
shorter than 32 bytes is refused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask

from adapters.receiver import SandboxSecurity
from adapters.sandbox.callbacks import CallbackSender
from adapters.tls import ClientTls, ServerTls
from certs.store import init_dev_pki, load_signing_identity
from certs.trust import TrustStore
from exchange.direct import call_now
from huiju.app.inbound_tls import serve_inbound
from huiju.app.web import create_app
from huiju.errors import ConfigurationError, PermanentAdapterError
from huiju.runtime import Runtime
from huiju.settings import MIN_SECRET_BYTES, load_settings

ID_NUMBER = "110105193801012340"


def test_a_short_secret_key_is_refused_in_production() -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings(env="production", secret_key="x" * (MIN_SECRET_BYTES - 1))
    assert "32" in refused.value.localized("en")
    assert load_settings(env="production", secret_key="密" * 11).production  # 33 bytes in UTF-8
    assert load_settings(env="development", secret_key="short").secret_key == "short"


def test_callbacks_go_to_https_in_secure_mode(tmp_path: Path) -> None:
    secure = load_settings(env="production", secret_key="s" * 40, inbound_port=9443)
    assert secure.resolved_inbound_mtls and secure.inbound_url == "https://127.0.0.1:9443/exchange/soap"
    plain = load_settings(env="development", exchange_signing=False)
    assert not plain.resolved_inbound_mtls and plain.inbound_url.startswith("http://")
    with pytest.raises(ValueError, match="https://"):
        CallbackSender("http://127.0.0.1:9/exchange/soap", None, tls=ClientTls.from_store(_pki(tmp_path), "sandbox"))  # type: ignore[arg-type]


def _pki(folder: Path) -> Path:
    certs = folder / "certs"
    init_dev_pki(certs)
    return certs


def test_an_http_adapter_endpoint_is_refused_in_secure_mode(sqlite_runtime: Runtime) -> None:
    assert sqlite_runtime.settings.secure_mode  # the seeded endpoints are http://127.0.0.1:9/...
    with pytest.raises(PermanentAdapterError) as refused:
        call_now(sqlite_runtime.db, "citizen_info.verify_identity", {"id_number": ID_NUMBER, "name": "张秀英"},
                 user_id="system", security=sqlite_runtime.security)  # fmt: skip
    assert "not https://" in refused.value.message


@pytest.fixture
def inbound(sqlite_runtime: Runtime, pki: Path) -> Iterator[tuple[str, Flask]]:
    """The web app with callbacks required over mTLS, its inbound listener on a free port."""
    app = create_app(sqlite_runtime, {"TESTING": True, "INBOUND_REQUIRE_CLIENT_CERT": True})
    server = serve_inbound("127.0.0.1", 0, app, ServerTls.from_store(pki, "huiju"))
    import threading

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_port}", app
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


def session_with(tls: ClientTls | None, ca_file: Path) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca_file)
    if tls is not None:
        session.cert = tls.cert
    return session


def test_the_inbound_endpoint_requires_a_client_certificate_of_a_trusted_member(
    inbound: tuple[str, Flask], pki: Path, tmp_path: Path
) -> None:
    url, app = inbound
    member = session_with(ClientTls.from_store(pki, "sandbox"), pki / "trusted.pem")
    reply = member.get(f"{url}/exchange/soap?wsdl", timeout=10)
    assert reply.status_code == 200 and b"definitions" in reply.content
    assert member.get(f"{url}/portal/", timeout=10).status_code == 404  # only the endpoint is served here
    with pytest.raises(requests.exceptions.RequestException):
        session_with(None, pki / "trusted.pem").get(f"{url}/exchange/soap?wsdl", timeout=10)
    stranger = _pki(tmp_path)  # a certificate of a CA this installation does not trust
    with pytest.raises(requests.exceptions.RequestException):
        session_with(ClientTls.from_store(stranger, "sandbox"), pki / "trusted.pem").get(
            f"{url}/exchange/soap?wsdl", timeout=10
        )
    plain = app.test_client().post("/exchange/soap", data=b"<x/>")  # past the listener: refused
    assert plain.status_code == 403 and b"mutual TLS" in plain.data


def test_a_signed_callback_arrives_over_mutual_tls(inbound: tuple[str, Flask], pki: Path) -> None:
    url, _app = inbound
    security = SandboxSecurity(trust=TrustStore.load(pki), signer=load_signing_identity(pki, "sandbox"))
    sender = CallbackSender(f"{url}/exchange/soap", security, delay=0, attempts=1,
                            tls=ClientTls.from_store(pki, "sandbox"))  # fmt: skip
    sender.delivery("sms-1", "no-such-message", None)
    deadline = time.monotonic() + 20
    while sender.sent[0].outcome == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)
    callback = sender.sent[0]
    # Verified and answered by the exchange layer (a signed refusal: no such SMS was sent).
    assert callback.outcome == "refused" and "no SMS was sent" in callback.answer, callback.answer
