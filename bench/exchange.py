"""Benchmark: signed SOAP exchange against plain zeep, side by side, on an idempotent read.

(a) signed: ``adapters.client.call`` with a signer and a trust store to a secure sandbox, which
    verifies the request and signs its reply (with requestHash); the reply is verified before use;
(a') the same round trip done by zeep itself: a zeep client built once, signing its requests with
    its WS-Security signature plugin (xmlsec) and the same keys and algorithms (EC P-256, SHA-256,
    exclusive C14N, two signed parts: the Body and a timestamp, as Huiju signs the Body and the
    exchange header), and verifying the signed reply with the sandbox's certificate; the server
    verifies the request the same way, lets the sandbox answer it, and signs the reply (xmlsec).
    ``exchange ratio`` = time per signed round trip of (a) ÷ that of (a');
(b) plain: the same calls through ``adapters.client.call`` without signing to a plain sandbox, and
    a bare ``zeep.Client`` built once from the local WSDL (``create_service``), to show what the
    adapter itself costs (validation, a client and a session per call, reply checks);
(c) sign-only and verify-only cost per message (``certs.xmlsig.sign_envelope`` /
    ``verify_envelope``) on a typical request envelope, EC P-256 and RSA-2048;
(d) signed calls from 4 threads against 1 thread (the sandbox is threaded; client and server share
    this process and its GIL).

Every call is ``citizen_info.query_person`` for a seeded resident, each with a new message id.
Client and sandbox run in one process over loopback HTTP, so a round trip pays both sides' work.
The round-trip rows are measured in interleaved rounds, so that other load on the host falls on
all of them alike.

Usage: ``python bench/exchange.py [-n N]`` (default 300).
"""

from __future__ import annotations

import argparse
import io
import logging
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

# Run as a file, Python puts this folder first on sys.path, where this very file would shadow the
# exchange package: the repository root goes there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import requests  # noqa: E402
import xmlsec  # noqa: E402
from lxml import etree  # noqa: E402
from zeep import Client, Settings  # noqa: E402
from zeep.transports import Transport  # noqa: E402
from zeep.wsse.signature import MemorySignature, sign_envelope, verify_envelope  # noqa: E402
from zeep.wsse.utils import WSU, get_security_header, get_timestamp  # noqa: E402

from adapters.client import call  # noqa: E402
from adapters.config import AdapterSettings  # noqa: E402
from adapters.contracts import CLIENT_NAME, CONTRACTS, EXCHANGE_NS, PROTOCOL_VERSION  # noqa: E402
from adapters.sandbox.people import seeded_people  # noqa: E402
from adapters.sandbox.server import SandboxServer, serve  # noqa: E402
from adapters.signing import Exchanged  # noqa: E402
from certs.store import SigningIdentity, init_dev_pki, load_signing_identity  # noqa: E402
from certs.trust import TrustStore  # noqa: E402
from certs.xmlsig import sign_envelope as huiju_sign  # noqa: E402
from certs.xmlsig import verify_envelope as huiju_verify  # noqa: E402
from huiju.db import utcnow  # noqa: E402

SYSTEM = "citizen_info"
OPERATION = "citizen_info.query_person"
WARMUP = 20
THREADS = 4
ROUNDS = 3

Caller = Callable[[str], Any]  # called with an ID number; one SOAP round trip


@dataclass(frozen=True)
class Rate:
    """One throughput measurement: messages per second and the per-call latency (ms)."""

    per_second: float
    median_ms: float
    p95_ms: float


@dataclass(frozen=True)
class Cost:
    """Per-message cost of one operation, in milliseconds."""

    median_ms: float
    p95_ms: float


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def new_message_id() -> str:
    return uuid.uuid4().hex


@dataclass
class Row:
    """One throughput row: who calls, from how many threads, and what was measured so far."""

    label: str
    caller: Caller
    threads: int = 1
    times: list[float] = field(default_factory=list)
    elapsed: float = 0.0

    def warm_up(self, ids: list[str]) -> None:
        for i in range(WARMUP * self.threads):
            self.caller(ids[i % len(ids)])

    def run(self, ids: list[str], start: int, count: int) -> None:
        """``count`` calls, in a row or spread over the row's threads; adds latencies and wall time."""
        batch = [ids[(start + i) % len(ids)] for i in range(count)]
        began = time.perf_counter()
        if self.threads == 1:
            self.times.extend(timed(self.caller, id_number) for id_number in batch)
        else:
            with ThreadPoolExecutor(max_workers=self.threads) as pool:
                self.times.extend(pool.map(lambda id_number: timed(self.caller, id_number), batch))
        self.elapsed += time.perf_counter() - began

    def rate(self) -> Rate:
        return Rate(len(self.times) / self.elapsed, statistics.median(self.times), p95(self.times))


def timed(caller: Caller, id_number: str) -> float:
    start = time.perf_counter()
    caller(id_number)
    return (time.perf_counter() - start) * 1000


def measure_rows(rows: list[Row], ids: list[str], n: int) -> None:
    """Each row makes ``n`` calls, in ROUNDS blocks interleaved across the rows, so that a change of
    load on a shared host during the run falls on every row alike."""
    for row in rows:
        row.warm_up(ids)
    done = 0
    for r in range(ROUNDS):
        count = n // ROUNDS + (1 if r < n % ROUNDS else 0)
        for row in rows:
            row.run(ids, done, count)
        done += count


def measure_cost(operation: Callable[[], object], n: int) -> Cost:
    for _ in range(WARMUP):
        operation()
    times: list[float] = []
    for _ in range(n):
        start = time.perf_counter()
        operation()
        times.append((time.perf_counter() - start) * 1000)
    return Cost(statistics.median(times), p95(times))


def adapter_caller(
    settings: AdapterSettings, signer: SigningIdentity | None = None, trust: TrustStore | None = None
) -> Caller:
    def caller(id_number: str) -> dict[str, Any]:
        reply = call(
            OPERATION, {"id_number": id_number}, settings=settings, message_id=new_message_id(),
            signer=signer, trust=trust,
        )  # fmt: skip
        if reply.get("id_number") != id_number:
            raise RuntimeError(f"reply for {reply.get('id_number')!r}, asked for {id_number!r}")
        return reply

    return caller


def bare_zeep_caller(sandbox_url: str, *, stock: bool = False) -> Caller:
    """A zeep client built once from the local WSDL file, pointed at the plain sandbox; no checks.

    By default its session ignores the environment (``trust_env = False``, as the adapter's does);
    ``stock`` keeps zeep's default transport, which looks up proxies and .netrc on every request.
    """
    contract = CONTRACTS[SYSTEM]
    session = requests.Session()
    session.trust_env = stock
    transport = Transport(session=session, timeout=3.0, operation_timeout=10.0)
    settings = Settings(strict=True, forbid_dtd=True, forbid_entities=True)
    client = Client(str(contract.wsdl_path), settings=settings, transport=None if stock else transport)
    service = client.create_service(contract.binding_qname, f"{sandbox_url.rstrip('/')}/{SYSTEM}")
    header_type = client.get_element(f"{{{EXCHANGE_NS}}}ExchangeHeader")

    def caller(id_number: str) -> Any:
        header = header_type(
            client=CLIENT_NAME, service=f"{SYSTEM}.QueryPerson", messageId=new_message_id(), userId="system",
            caseNumber=None, timestamp=utcnow(), protocolVersion=PROTOCOL_VERSION,
        )  # fmt: skip
        result = service.QueryPerson(idNumber=id_number, _soapheaders=[header])
        if result.body.idNumber != id_number:
            raise RuntimeError(f"reply for {result.body.idNumber!r}, asked for {id_number!r}")
        return result

    return caller


EC_SHA256 = {
    "signature_method": xmlsec.constants.TransformEcdsaSha256,
    "digest_method": xmlsec.constants.TransformSha256,
}
SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def add_timestamp(envelope: etree._Element) -> None:
    """A wsu:Timestamp in the wsse:Security header, which zeep's signature signs with the Body."""
    security = get_security_header(envelope)
    now = utcnow()
    timestamp = WSU.Timestamp(WSU.Created(get_timestamp(now)), WSU.Expires(get_timestamp(now + timedelta(minutes=5))))
    security.append(timestamp)


class WsSecurity(MemorySignature):  # type: ignore[misc]
    """zeep's WS-Security signature plugin: signs with our key; verifies replies with the peer's cert."""

    def __init__(self, key_file: Path, cert_file: Path, peer_cert_file: Path) -> None:
        super().__init__(key_file.read_bytes(), cert_file.read_bytes(), **EC_SHA256)
        self.peer_cert_file = str(peer_cert_file)

    def apply(self, envelope: etree._Element, headers: dict[str, str]) -> tuple[etree._Element, dict[str, str]]:
        add_timestamp(envelope)
        result: tuple[etree._Element, dict[str, str]] = super().apply(envelope, headers)
        return result

    def verify(self, envelope: etree._Element) -> etree._Element:
        verify_envelope(envelope, self.peer_cert_file)
        return envelope


class WsSecurityServer:
    """The zeep variant's other side: verifies a WS-Security signed request (zeep's functions, with the
    client's certificate), has the sandbox answer it, and signs the reply with the sandbox's key."""

    def __init__(self, sandbox: Any, client_cert: Path, key_file: Path, cert_file: Path) -> None:
        self.sandbox = sandbox
        self.client_cert, self.key_file, self.cert_file = str(client_cert), str(key_file), str(cert_file)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        request = etree.fromstring(body, SAFE_XML)
        verify_envelope(request, self.client_cert)
        security = get_security_header(request)
        security.getparent().remove(security)
        plain = etree.tostring(request)
        environ = {**environ, "wsgi.input": io.BytesIO(plain), "CONTENT_LENGTH": str(len(plain))}
        answered: dict[str, Any] = {}

        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            answered.update(status=status, headers=headers)

        reply = etree.fromstring(b"".join(self.sandbox(environ, keep)), SAFE_XML)
        add_timestamp(reply)
        sign_envelope(reply, self.key_file, self.cert_file, **EC_SHA256)
        data = etree.tostring(reply)
        headers = [(k, v) for k, v in answered["headers"] if k.lower() != "content-length"]
        start_response(answered["status"], [*headers, ("Content-Length", str(len(data)))])
        return [data]


def ws_security_caller(server_url: str, client: Path, server: Path) -> Caller:
    """zeep signing and verifying itself (WS-Security), its client built once, as in ``bare_zeep_caller``."""
    contract = CONTRACTS[SYSTEM]
    session = requests.Session()
    session.trust_env = False
    transport = Transport(session=session, timeout=3.0, operation_timeout=10.0)
    settings = Settings(strict=True, forbid_dtd=True, forbid_entities=True)
    huiju_key, huiju_cert = signing_files(client, "huiju")
    _sandbox_key, sandbox_cert = signing_files(server, "sandbox")
    wsse = WsSecurity(huiju_key, huiju_cert, sandbox_cert)
    zeep = Client(str(contract.wsdl_path), settings=settings, transport=transport, wsse=wsse)
    service = zeep.create_service(contract.binding_qname, f"{server_url.rstrip('/')}/{SYSTEM}")
    header_type = zeep.get_element(f"{{{EXCHANGE_NS}}}ExchangeHeader")

    def caller(id_number: str) -> Any:
        header = header_type(
            client=CLIENT_NAME, service=f"{SYSTEM}.QueryPerson", messageId=new_message_id(), userId="system",
            caseNumber=None, timestamp=utcnow(), protocolVersion=PROTOCOL_VERSION,
        )  # fmt: skip
        result = service.QueryPerson(idNumber=id_number, _soapheaders=[header])
        if result.body.idNumber != id_number:
            raise RuntimeError(f"reply for {result.body.idNumber!r}, asked for {id_number!r}")
        return result

    return caller


def signing_files(folder: Path, member: str) -> tuple[Path, Path]:
    """The PEM files of a member's signing key and certificate (the same keys Huiju loads)."""
    info = load_signing_identity(folder, member).info
    return folder / info.key_file, folder / info.cert_file


def typical_request(settings: AdapterSettings, id_number: str) -> etree._Element:
    """The unsigned envelope ``call`` sends for one query_person (captured from a real call)."""
    record: list[Exchanged] = []
    call(OPERATION, {"id_number": id_number}, settings=settings, message_id=new_message_id(), exchange_record=record)
    return etree.fromstring(record[0].request)


def crypto_costs(folder: Path, envelope: etree._Element, n: int) -> tuple[Cost, Cost, int]:
    """Sign-only and verify-only cost with the folder's PKI, and the signed envelope's size in bytes."""
    identity = load_signing_identity(folder, "huiju")
    trust = TrustStore.load(folder)
    signed = etree.tostring(huiju_sign(envelope, identity))
    huiju_verify(signed, trust)  # it must verify before it is timed
    sign = measure_cost(lambda: etree.tostring(huiju_sign(envelope, identity)), n)
    verify = measure_cost(lambda: huiju_verify(signed, trust), n)
    return sign, verify, len(signed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", type=int, default=300, help="messages per measurement (default 300)")
    n = parser.parse_args(argv).n
    if n < 2:
        parser.error("-n must be at least 2")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access line per SOAP call otherwise
    logging.getLogger("adapters").setLevel(logging.WARNING)

    ids = [person.id_number for person in seeded_people()]
    with tempfile.TemporaryDirectory(prefix="huiju-bench-") as tmp:
        ec_pki, rsa_pki = Path(tmp) / "ec", Path(tmp) / "rsa"
        init_dev_pki(ec_pki)
        init_dev_pki(rsa_pki, key_type="rsa")
        trust = TrustStore.load(ec_pki)
        signer = load_signing_identity(ec_pki, "huiju")
        secure = SandboxServer(port=0, trust=trust, signer=load_signing_identity(ec_pki, "sandbox"))
        wss_sandbox = SandboxServer(port=0)  # answers for the WS-Security server, in-process
        huiju_key, huiju_cert = signing_files(ec_pki, "huiju")
        sandbox_key, sandbox_cert = signing_files(ec_pki, "sandbox")
        wss = serve("127.0.0.1", 0, WsSecurityServer(wss_sandbox.app, huiju_cert, sandbox_key, sandbox_cert))
        threading.Thread(target=wss.serve_forever, name="ws-security", daemon=True).start()
        wss_url = f"http://127.0.0.1:{wss.server_port}"
        with SandboxServer(port=0) as plain, secure:
            signed_settings = AdapterSettings.for_sandbox(SYSTEM, secure.url)
            plain_settings = AdapterSettings.for_sandbox(SYSTEM, plain.url)
            signed_call = adapter_caller(signed_settings, signer, trust)
            plain_call = adapter_caller(plain_settings)
            rows = [
                Row("(a) signed + verified, adapter -> secure sandbox", signed_call),
                Row("(a') signed + verified by zeep itself (WS-Security)", ws_security_caller(wss_url, ec_pki, ec_pki)),
                Row("(b) plain, adapter (call without signing)", plain_call),
                Row("(b) plain, bare zeep client built once", bare_zeep_caller(plain.url)),
                Row("    same, zeep's stock transport (trust_env)", bare_zeep_caller(plain.url, stock=True)),
                Row(f"(d) signed, {THREADS} threads", signed_call, THREADS),
                Row(f"(d) plain adapter, {THREADS} threads", plain_call, THREADS),
            ]
            measure_rows(rows, ids, n)
            signed, zeep_signed, adapter, bare, stock, threaded, plain_threaded = (row.rate() for row in rows)
            envelope = typical_request(plain_settings, ids[0])
        wss.shutdown()
        ec_sign, ec_verify, ec_size = crypto_costs(ec_pki, envelope, n)
        rsa_sign, rsa_verify, rsa_size = crypto_costs(rsa_pki, envelope, n)
    unsigned_size = len(etree.tostring(envelope))

    print(f"{OPERATION}, {n} messages per row, client and sandbox in one process over loopback HTTP")
    print()
    print(f"{'round trips (1 thread unless said)':48} {'msg/s':>7} {'median ms':>10} {'p95 ms':>7}")
    for row in rows:
        rate = row.rate()
        print(f"{row.label:48} {rate.per_second:>7,.0f} {rate.median_ms:>10.2f} {rate.p95_ms:>7.2f}")
    print()
    ratios = [
        ("signed adapter / zeep WS-Security (time)", zeep_signed.per_second / signed.per_second),
        ("signed / plain adapter (throughput)", signed.per_second / adapter.per_second),
        ("plain adapter / bare zeep (throughput)", adapter.per_second / bare.per_second),
        ("signed / bare zeep (throughput)", signed.per_second / bare.per_second),
        ("bare zeep stock transport / pinned session", stock.per_second / bare.per_second),
        (f"signed {THREADS} threads / 1 thread (throughput)", threaded.per_second / signed.per_second),
        (f"plain adapter {THREADS} threads / 1 thread", plain_threaded.per_second / adapter.per_second),
    ]
    for label, ratio in ratios:
        print(f"{label:48} {ratio:>7.2f}")
    print()
    print(f"per message, {n} each (envelope {unsigned_size} B unsigned)")
    print(f"{'(c) signature only':28} {'sign ms':>8} {'p95':>6} {'verify ms':>10} {'p95':>6} {'signed B':>9}")
    for label, sign, verify, size in (
        ("EC P-256 (default dev PKI)", ec_sign, ec_verify, ec_size),
        ("RSA-2048", rsa_sign, rsa_verify, rsa_size),
    ):
        print(
            f"{label:28} {sign.median_ms:>8.2f} {sign.p95_ms:>6.2f} {verify.median_ms:>10.2f} {verify.p95_ms:>6.2f}"
            f" {size:>9,}"
        )
    crypto = 2 * (ec_sign.median_ms + ec_verify.median_ms)
    extra = signed.median_ms - adapter.median_ms
    print()
    print(f"EC signing work per signed round trip (2 signs + 2 verifies, medians): {crypto:.2f} ms")
    print(f"measured extra latency of a signed round trip over a plain one (medians): {extra:.2f} ms")
    print()
    print(f"exchange ratio {zeep_signed.per_second / signed.per_second:.2f}")
    print(f"exchange ratio of the median round trips {signed.median_ms / zeep_signed.median_ms:.2f}")


if __name__ == "__main__":
    main()
