"""Mutual TLS: adapters and the secure sandbox talk HTTPS with client certificates, on top of signing."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from adapters.client import call
from adapters.config import AdapterSettings
from adapters.sandbox.server import SandboxServer
from adapters.signing import Exchanged
from adapters.tls import KEPT_SESSIONS, ClientTls, ServerTls, server_context
from certs.errors import CertificateStoreError
from certs.store import active_certificate, init_dev_pki
from huiju.errors import PermanentAdapterError, TransientAdapterError
from tests.adapters.conftest import Pki

MOTHER = "110105193801012340"
SMS = {"phone": "13800138000", "template": "CASE_APPROVED", "params": {"case": "HJ-1"}}


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another development CA, with its own huiju and sandbox TLS certificates: trusted by nobody here."""
    folder = tmp_path_factory.mktemp("other-ca")
    init_dev_pki(folder)
    return folder


@pytest.fixture(scope="module")
def client_tls(pki: Pki) -> ClientTls:
    return ClientTls.from_store(pki.folder, "huiju")


@pytest.fixture(scope="module")
def mtls_server(pki: Pki) -> Iterator[SandboxServer]:
    """The sandbox in secure mode (signed messages) over HTTPS with client certificates."""
    tls = ServerTls.from_store(pki.folder, "sandbox")
    with SandboxServer(port=0, trust=pki.trust, signer=pki.sandbox, max_skew_seconds=300, tls=tls) as server:
        yield server


@pytest.fixture
def mtls_sandbox(mtls_server: SandboxServer) -> SandboxServer:
    mtls_server.state.reset()
    return mtls_server


@pytest.fixture(scope="module")
def impostor(other_ca: Path) -> Iterator[SandboxServer]:
    """A sandbox serving a certificate of the other CA (same SAN, localhost and 127.0.0.1)."""
    with SandboxServer(port=0, tls=ServerTls.from_store(other_ca, "sandbox")) as server:
        yield server


def settings(server: SandboxServer, system: str) -> AdapterSettings:
    return AdapterSettings.for_sandbox(system, server.url, connect_timeout=2.0, operation_timeout=5.0)


def query_person(server: SandboxServer, message_id: str, **keys: Any) -> dict[str, Any]:
    return call(
        "citizen_info.query_person",
        {"id_number": MOTHER},
        settings=settings(server, "citizen_info"),
        message_id=message_id,
        **keys,
    )


def mtls_session(tls: ClientTls) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.cert = tls.cert
    session.verify = str(tls.ca_file)
    return session


# --- round trips -----------------------------------------------------------------------------------


def test_signed_mtls_round_trip_for_every_system(
    pki: Pki, client_tls: ClientTls, mtls_sandbox: SandboxServer, new_id: Callable[[], str]
) -> None:
    assert mtls_sandbox.url.startswith("https://")
    record: list[Exchanged] = []
    keys: dict[str, Any] = {"signer": pki.huiju, "trust": pki.trust, "exchange_record": record, "tls": client_tls}
    person = query_person(mtls_sandbox, new_id(), user_id="officer-7", case_number="HJ-1", **keys)
    assert person["name"] == "张秀英"
    sent = call("sms.send_sms", SMS, settings=settings(mtls_sandbox, "sms"), message_id=new_id(), **keys)
    assert sent["accepted"] is True
    receipt = call(
        "egov.submit_case",
        {
            "case_number": "HJ-2025-000042",
            "item_code": "ELD-SUBSIDY",
            "applicant_id_number": MOTHER,
            "applicant_name": "张秀英",
            "decision": "approved",
            "decided_by": "street-reviewer-1",
            "decided_at": datetime(2025, 3, 1, 2, 0, tzinfo=UTC),
            "summary": "符合高龄津贴条件",
        },
        settings=settings(mtls_sandbox, "egov_approval"),
        message_id=new_id(),
        **keys,
    )
    assert receipt["receipt_number"].startswith("RC-")
    call(
        "data_exchange.publish_record",
        {"dataset": "subsidy", "record": {"case": "HJ-1", "amount": "100.00"}},
        settings=settings(mtls_sandbox, "data_exchange"),
        message_id=new_id(),
        **keys,
    )
    found = call(
        "data_exchange.query_records",
        {"dataset": "subsidy", "filter": {"case": "HJ-1"}},
        settings=settings(mtls_sandbox, "data_exchange"),
        message_id=new_id(),
        **keys,
    )
    assert [r["fields"]["amount"] for r in found["records"]] == ["100.00"]

    assert len(record) == 5
    for entry in record:
        assert entry.signed and entry.reply_signature == "verified" and entry.http_status == 200
    assert len(mtls_sandbox.state.entries()) == 5
    assert mtls_sandbox.state.refused() == []


def test_calls_to_a_system_share_one_kept_connection(
    pki: Pki, client_tls: ClientTls, mtls_sandbox: SandboxServer, new_id: Callable[[], str]
) -> None:
    """A call to a system called a moment ago opens no new connection: no new TLS handshake."""
    KEPT_SESSIONS.close()
    for _ in range(3):
        assert query_person(mtls_sandbox, new_id(), signer=pki.huiju, trust=pki.trust, tls=client_tls)["name"]
    with KEPT_SESSIONS.lend(client_tls) as session:
        adapter = session.get_adapter(mtls_sandbox.url)
        assert isinstance(adapter, HTTPAdapter)
        pools = adapter.poolmanager.pools
        opened = [pools[key].num_connections for key in pools.keys()]
    assert opened == [1]
    assert len(mtls_sandbox.state.entries()) == 3


def test_a_system_restarted_between_two_calls_is_called_on_a_new_connection(
    pki: Pki, client_tls: ClientTls, new_id: Callable[[], str]
) -> None:
    """The kept connection to a server that went away is not used again: the next call is not
    refused as transient, it opens a connection to the server that now listens."""
    keys: dict[str, Any] = {"trust": pki.trust, "signer": pki.sandbox, "max_skew_seconds": 300,
                            "tls": ServerTls.from_store(pki.folder, "sandbox")}  # fmt: skip
    with SandboxServer(port=0, **keys) as first:
        assert query_person(first, new_id(), signer=pki.huiju, trust=pki.trust, tls=client_tls)["name"]
    with SandboxServer(port=first.port, **keys) as second:
        message_id = new_id()
        assert query_person(second, message_id, signer=pki.huiju, trust=pki.trust, tls=client_tls)["name"]
        assert [entry["message_id"] for entry in second.state.entries(message_id)] == [message_id]


def test_control_api_is_served_over_mtls(
    pki: Pki, client_tls: ClientTls, mtls_sandbox: SandboxServer, new_id: Callable[[], str]
) -> None:
    with mtls_session(client_tls) as control:
        health = control.get(f"{mtls_sandbox.url}/_sandbox/health", timeout=5)
        assert health.status_code == 200
        added = control.post(
            f"{mtls_sandbox.url}/_sandbox/faults",
            json={"operation": "QueryPerson", "mode": "http_500", "count": 1},
            timeout=5,
        )
        assert added.status_code == 201, added.text
        with pytest.raises(TransientAdapterError):
            query_person(mtls_sandbox, new_id(), signer=pki.huiju, trust=pki.trust, tls=client_tls)
        message_id = new_id()
        query_person(mtls_sandbox, message_id, signer=pki.huiju, trust=pki.trust, tls=client_tls)
        journal = control.get(f"{mtls_sandbox.url}/_sandbox/journal", params={"message_id": message_id}, timeout=5)
        assert journal.status_code == 200
        assert message_id in journal.text
    # Without a client certificate the control API is out of reach too.
    with requests.Session() as bare:
        bare.trust_env = False
        bare.verify = str(client_tls.ca_file)
        with pytest.raises(requests.exceptions.SSLError):
            bare.get(f"{mtls_sandbox.url}/_sandbox/health", timeout=5)


# --- refusals --------------------------------------------------------------------------------------


def test_client_without_certificate_is_refused_in_the_handshake(
    pki: Pki,
    client_tls: ClientTls,
    mtls_sandbox: SandboxServer,
    new_id: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A client that trusts the sandbox's CA but presents no certificate.
    monkeypatch.setattr(ClientTls, "cert", property(lambda _self: None))
    message_id = new_id()
    with pytest.raises(PermanentAdapterError) as caught:
        query_person(mtls_sandbox, message_id, signer=pki.huiju, trust=pki.trust, tls=client_tls)
    assert "TLS handshake refused by the server" in caught.value.message
    assert caught.value.details["message_id"] == message_id
    assert caught.value.details["tls_error"]
    assert mtls_sandbox.state.entries(message_id) == []
    assert mtls_sandbox.state.refused(message_id) == []  # refused before any request was read


def test_client_certificate_of_another_ca_is_refused(
    pki: Pki, other_ca: Path, mtls_sandbox: SandboxServer, new_id: Callable[[], str]
) -> None:
    foreign = active_certificate(other_ca, "huiju", "tls-client")
    tls = ClientTls(
        cert_file=other_ca / foreign.cert_file,
        key_file=other_ca / foreign.key_file,
        ca_file=pki.folder / "trusted.pem",  # trusts the sandbox: only its own certificate is foreign
    )
    message_id = new_id()
    with pytest.raises(PermanentAdapterError) as caught:
        query_person(mtls_sandbox, message_id, signer=pki.huiju, trust=pki.trust, tls=tls)
    assert "client certificate is missing or not accepted" in caught.value.message
    assert "UNKNOWN_CA" in caught.value.details["tls_error"]
    assert mtls_sandbox.state.entries(message_id) == []


def test_server_certificate_of_another_ca_fails_verification(
    pki: Pki, client_tls: ClientTls, impostor: SandboxServer, new_id: Callable[[], str]
) -> None:
    impostor.state.reset()
    message_id = new_id()
    with pytest.raises(PermanentAdapterError) as caught:
        query_person(impostor, message_id, signer=pki.huiju, trust=pki.trust, tls=client_tls)
    assert "TLS certificate verification failed" in caught.value.message
    assert caught.value.details["tls_error"] == "CERTIFICATE_VERIFY_FAILED"
    assert impostor.state.entries() == []


def test_https_without_tls_config_verifies_against_the_default_cas(
    pki: Pki, mtls_sandbox: SandboxServer, new_id: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Even with the environment pointing requests at our CA, an adapter without tls config does not
    # trust the development CA: the public CAs alone decide, and the call never reaches the sandbox.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.folder / "trusted.pem"))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(pki.folder / "trusted.pem"))
    with pytest.raises(PermanentAdapterError, match="TLS certificate verification failed"):
        query_person(mtls_sandbox, new_id(), signer=pki.huiju, trust=pki.trust)
    assert mtls_sandbox.state.entries() == []


def test_environment_ca_bundle_does_not_change_what_is_trusted(
    pki: Pki,
    client_tls: ClientTls,
    mtls_sandbox: SandboxServer,
    new_id: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bogus))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(bogus))
    monkeypatch.setenv("SSL_CERT_FILE", str(bogus))
    message_id = new_id()
    person = query_person(mtls_sandbox, message_id, signer=pki.huiju, trust=pki.trust, tls=client_tls)
    assert person["name"] == "张秀英"
    assert [e["message_id"] for e in mtls_sandbox.state.entries(message_id)] == [message_id]


# --- connection failures ---------------------------------------------------------------------------


def test_nobody_listening_on_https_is_transient(client_tls: ClientTls, new_id: Callable[[], str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = AdapterSettings.for_sandbox("citizen_info", f"https://127.0.0.1:{port}", connect_timeout=0.5)
    with pytest.raises(TransientAdapterError, match="connection failed"):
        call("citizen_info.query_person", {"id_number": MOTHER}, settings=server, message_id=new_id(), tls=client_tls)


def test_connection_dropped_during_the_handshake_is_transient(client_tls: ClientTls, new_id: Callable[[], str]) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)

    def drop_one() -> None:
        try:
            connection, _address = listener.accept()
        except OSError:
            return
        connection.close()

    dropper = threading.Thread(target=drop_one, daemon=True)
    dropper.start()
    try:
        port = listener.getsockname()[1]
        server = AdapterSettings.for_sandbox("citizen_info", f"https://127.0.0.1:{port}", connect_timeout=2.0)
        with pytest.raises(TransientAdapterError):
            call(
                "citizen_info.query_person", {"id_number": MOTHER}, settings=server, message_id=new_id(), tls=client_tls
            )
    finally:
        dropper.join(timeout=5)
        listener.close()


def test_https_to_a_plain_http_sandbox_is_permanent(
    client_tls: ClientTls, sandbox: SandboxServer, new_id: Callable[[], str]
) -> None:
    settings_https = AdapterSettings.for_sandbox("citizen_info", sandbox.url.replace("http://", "https://"))
    with pytest.raises(PermanentAdapterError, match="TLS handshake failed"):
        call(
            "citizen_info.query_person",
            {"id_number": MOTHER},
            settings=settings_https,
            message_id=new_id(),
            tls=client_tls,
        )
    assert sandbox.state.entries() == []


# --- configuration ---------------------------------------------------------------------------------


def test_from_store_reads_the_active_tls_certificates(pki: Pki) -> None:
    client = ClientTls.from_store(pki.folder, "huiju")
    server = ServerTls.from_store(pki.folder, "sandbox")
    assert client.cert_file.name == active_certificate(pki.folder, "huiju", "tls-client").cert_file
    assert client.key_file.name == active_certificate(pki.folder, "huiju", "tls-client").key_file
    assert server.cert_file.name == active_certificate(pki.folder, "sandbox", "tls-server").cert_file
    assert client.ca_file == server.ca_file == pki.folder / "trusted.pem"
    assert server.require_client_cert is True


def test_server_context_requires_verified_client_certificates(pki: Pki) -> None:
    context = server_context(ServerTls.from_store(pki.folder, "sandbox"))
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_REQUIRED
    optional = server_context(ServerTls.from_store(pki.folder, "sandbox", require_client_cert=False))
    assert optional.verify_mode == ssl.CERT_OPTIONAL


def test_encrypted_tls_keys_are_refused_with_a_clear_message(tmp_path: Path) -> None:
    init_dev_pki(tmp_path, members=("huiju",), passphrase=b"correct horse")
    with pytest.raises(CertificateStoreError, match="encrypted with a passphrase"):
        ClientTls.from_store(tmp_path, "huiju")
    with pytest.raises(CertificateStoreError, match="encrypted with a passphrase"):
        ServerTls.from_store(tmp_path, "huiju")


def test_missing_files_are_refused(pki: Pki, tmp_path: Path) -> None:
    client = ClientTls.from_store(pki.folder, "huiju")
    with pytest.raises(CertificateStoreError, match="CA bundle file"):
        ClientTls(cert_file=client.cert_file, key_file=client.key_file, ca_file=tmp_path / "none.pem")


def test_revoked_client_certificate_is_refused_in_the_handshake(tmp_path: Path, new_id: Callable[[], str]) -> None:
    from certs.store import load_signing_identity, revoke
    from certs.trust import TrustStore

    folder = tmp_path / "pki"
    init_dev_pki(folder)
    tls = ClientTls.from_store(folder, "huiju")
    revoke(folder, active_certificate(folder, "huiju", "tls-client").serial, "keyCompromise")
    server_tls = ServerTls.from_store(folder, "sandbox")
    assert server_tls.crl_file == folder / "crl.pem"
    with SandboxServer(trust=TrustStore.load(folder), signer=load_signing_identity(folder, "sandbox"),
                       tls=server_tls) as sandbox:  # fmt: skip
        message_id = new_id()
        with pytest.raises(PermanentAdapterError) as caught:
            query_person(sandbox, message_id, signer=load_signing_identity(folder, "huiju"),
                         trust=TrustStore.load(folder), tls=tls)  # fmt: skip
        assert "client certificate is missing or not accepted" in caught.value.message
        assert "REVOKED" in caught.value.details["tls_error"]
        assert sandbox.state.entries(message_id) == []


def test_revoked_server_certificate_is_refused_by_the_client(tmp_path: Path, new_id: Callable[[], str]) -> None:
    from certs.store import load_signing_identity, revoke
    from certs.trust import TrustStore

    folder = tmp_path / "pki"
    init_dev_pki(folder)
    server_tls = ServerTls.from_store(folder, "sandbox")
    with SandboxServer(trust=TrustStore.load(folder), signer=load_signing_identity(folder, "sandbox"),
                       tls=server_tls) as sandbox:  # fmt: skip
        signer, trust = load_signing_identity(folder, "huiju"), TrustStore.load(folder)
        query_person(sandbox, new_id(), signer=signer, trust=trust, tls=ClientTls.from_store(folder, "huiju"))
        revoke(folder, active_certificate(folder, "sandbox", "tls-server").serial, "keyCompromise")
        message_id = new_id()
        with pytest.raises(PermanentAdapterError) as caught:
            query_person(sandbox, message_id, signer=signer, trust=trust, tls=ClientTls.from_store(folder, "huiju"))
        assert "TLS certificate verification failed" in caught.value.message
        assert sandbox.state.entries(message_id) == []


def test_a_client_certificate_revoked_while_the_server_runs_is_refused_from_the_next_connection(
    tmp_path: Path, new_id: Callable[[], str]
) -> None:
    """The listener reads the revocation list again when it changes: no restart is needed for a
    revocation (or a CRL refreshed by ``huiju certs crl``) to count."""
    from certs.store import load_signing_identity, revoke
    from certs.trust import TrustStore

    folder = tmp_path / "pki"
    init_dev_pki(folder)
    tls = ClientTls.from_store(folder, "huiju")
    signer = load_signing_identity(folder, "huiju")
    with SandboxServer(trust=TrustStore.load(folder), signer=load_signing_identity(folder, "sandbox"),
                       tls=ServerTls.from_store(folder, "sandbox")) as sandbox:  # fmt: skip
        assert query_person(sandbox, new_id(), signer=signer, trust=TrustStore.load(folder), tls=tls)
        revoke(folder, active_certificate(folder, "huiju", "tls-client").serial, "keyCompromise")
        message_id = new_id()
        with pytest.raises(PermanentAdapterError) as caught:
            query_person(sandbox, message_id, signer=signer, trust=TrustStore.load(folder), tls=tls)
        assert "REVOKED" in caught.value.details["tls_error"]
        assert sandbox.state.entries(message_id) == []
