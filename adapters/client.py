"""The one place where a call leaves the building: zeep over requests, errors translated once.

A call validates its parameters (:mod:`adapters.registry`), builds a zeep client from a local
WSDL parsed once per process, sends the :data:`ExchangeHeader <adapters.contracts.EXCHANGE_NS>`
with the caller's message id (the receiver's idempotency key) and returns a JSON-safe dict.

Third-party errors become Huiju errors here and nowhere else::

    requests timeout, connection error, HTTP 5xx or 429     -> TransientAdapterError (retry)
    SOAP Fault with faultcode Server, or "busy"/"unavailable" -> TransientAdapterError (retry)
    SOAP Fault with faultcode Client, HTTP 4xx                -> PermanentAdapterError
    unparseable, invalid, oversized or mismatched reply       -> PermanentAdapterError

Every error carries ``operation`` and ``message_id`` (and ``status_code`` or ``fault_code``) in
its ``details`` so the message log can show what happened to which message.

Signed exchange (:mod:`adapters.signing`): with ``signer`` the request is signed; with ``trust``
the reply is verified on its raw bytes before zeep parses anything, and must echo the message id
and carry the requestHash of the exact request sent::

    reply unsigned, badly signed, untrusted/revoked/expired signer,
    wrong messageId or requestHash, hostile XML                -> PermanentAdapterError
    ...unless it is an unverified "busy" SOAP Fault or HTTP 429/5xx -> TransientAdapterError

``exchange_record`` (a list) receives one :class:`~adapters.signing.Exchanged` per request sent.

Mutual TLS (:mod:`adapters.tls`): with ``tls`` the session presents the client certificate and
trusts only ``tls.ca_file``; without it an https endpoint is verified against requests' default
CA bundle (the public web CAs). Certificates are never left unverified, and the environment
(``REQUESTS_CA_BUNDLE``, proxies) never changes what is trusted::

    server certificate not trusted, expired or for another host -> PermanentAdapterError
    handshake refused by the server (our client certificate missing,
    unknown or revoked: a TLS alert), no common protocol, not TLS -> PermanentAdapterError
    connection refused, reset or closed mid-handshake, timeouts    -> TransientAdapterError
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Mapping
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import requests
from lxml import etree
from zeep import Client, Settings
from zeep import exceptions as zeep_errors
from zeep.helpers import serialize_object
from zeep.transports import Transport
from zeep.wsdl import Document

from adapters.config import AdapterSettings
from adapters.contracts import CLIENT_NAME, EXCHANGE_NS, PROTOCOL_VERSION, WSDL_DIR, contract_file
from adapters.registry import REGISTRY, System, validate_params
from adapters.signing import Exchanged, ReplyGuard, ReplyRefused, SigningPlugin, exchanged, is_transient_fault
from adapters.tls import KEPT_SESSIONS, ClientTls
from certs.store import SigningIdentity
from certs.trust import TrustStore
from huiju.db import utcnow
from huiju.errors import AdapterError, InputError, PermanentAdapterError, TransientAdapterError

log = logging.getLogger(__name__)

MAX_REPLY_BYTES = 2 * 1024 * 1024
ReplyCheck = Callable[[bytes, int, bytes], bytes]


class ReplyTooLarge(Exception):
    """A reply over the size cap; read no further (a hostile or broken peer)."""


class LoadRefused(Exception):
    """A WSDL or XSD that is not one of our contract files."""


class GuardedTransport(Transport):
    """A zeep transport that reads only our contract files and caps the size of every reply.

    zeep's ``forbid_external`` does not stop a WSDL from pulling in local ``file://`` paths, so
    loading is limited to the files of :mod:`adapters.contracts`; everything else is refused.
    """

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        connect_timeout: float = 3.0,
        operation_timeout: float = 10.0,
        max_reply_bytes: int = MAX_REPLY_BYTES,
        reply_check: ReplyCheck | None = None,
    ) -> None:
        if session is None:
            session = requests.Session()
            session.trust_env = False
        super().__init__(session=session, timeout=connect_timeout, operation_timeout=operation_timeout)
        self.connect_timeout = connect_timeout
        self.max_reply_bytes = max_reply_bytes
        # Called with (request bytes, HTTP status, reply bytes) before zeep sees the reply; returns
        # the bytes zeep may parse or raises (see adapters.signing.ReplyGuard).
        self.reply_check: ReplyCheck | None = reply_check
        self.sent: bytes | None = None
        self.received: bytes | None = None
        self.status: int | None = None
        self.refusal: str | None = None  # why the reply was not read (too large)

    def load(self, url: str) -> bytes:
        parsed = urlparse(url)
        if parsed.scheme not in ("", "file"):
            raise LoadRefused(f"refusing to load {url!r}: only local contract files are read")
        path = Path(unquote(parsed.path) if parsed.scheme == "file" else url).resolve()
        if path.parent != WSDL_DIR:
            raise LoadRefused(f"refusing to load {url!r}: outside {WSDL_DIR}")
        try:
            return contract_file(path.name).read_bytes()
        except ValueError as exc:
            raise LoadRefused(str(exc)) from exc

    def post(self, address: str, message: bytes | str, headers: dict[str, str]) -> requests.Response:
        data = message.encode() if isinstance(message, str) else bytes(message)
        self.sent, self.received, self.status, self.refusal = data, None, None, None
        response = self.session.post(
            address,
            data=data,
            headers=headers,
            timeout=(self.connect_timeout, self.operation_timeout),
            stream=True,
            allow_redirects=False,
        )
        try:
            declared = response.headers.get("Content-Length", "")
            self.status = response.status_code
            if declared.isdigit() and int(declared) > self.max_reply_bytes:
                raise ReplyTooLarge(f"reply declares {declared} bytes")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > self.max_reply_bytes:
                    raise ReplyTooLarge(f"reply exceeds {self.max_reply_bytes} bytes")
                chunks.append(chunk)
        except ReplyTooLarge as exc:
            self.refusal = str(exc)
            raise
        finally:
            response.close()
        content = b"".join(chunks)
        self.received = content
        if self.reply_check is not None:
            content = self.reply_check(data, response.status_code, content)
        # requests has no public way to hand over a body read by hand; zeep reads .content.
        response._content = content
        return response


@lru_cache(maxsize=1)
def _zeep_settings() -> Settings:
    return Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True)


@cache
def _document(wsdl_file: str) -> Document:
    """Each contract parsed once per process (~0.02 ms to reuse against ~0.6 ms to re-read)."""
    transport = GuardedTransport()
    # zeep annotates this argument as a class, but it takes (and uses) a transport instance.
    return Document(str(contract_file(wsdl_file)), transport, settings=_zeep_settings())  # type: ignore[arg-type]


def _system_document(system: System, wsdl_file: str) -> Document:
    """A built-in system's contract file, or the WSDL an integrator uploaded (see adapters.custom)."""
    if system.builtin:
        return _document(wsdl_file)
    from adapters.custom import document

    return document(system)


def call(
    operation: str,
    params: Mapping[str, Any],
    *,
    settings: AdapterSettings,
    message_id: str,
    user_id: str = "system",
    case_number: str | None = None,
    signer: SigningIdentity | None = None,
    trust: TrustStore | None = None,
    exchange_record: list[Exchanged] | None = None,
    tls: ClientTls | None = None,
) -> dict[str, Any]:
    """Call one registered operation and return its reply as a JSON-safe dict.

    Raises InputError for bad parameters (nothing is sent), TransientAdapterError when a retry
    with the SAME ``message_id`` may succeed, PermanentAdapterError when it cannot.

    ``signer`` signs the request; ``trust`` requires a reply signed by a certificate it trusts,
    echoing ``message_id`` and carrying the requestHash of the request sent. When a request was
    sent, ``exchange_record`` gets its :class:`~adapters.signing.Exchanged` record, whatever the
    outcome.

    ``tls`` presents its client certificate and trusts only its CA bundle (mTLS); a TLS failure
    is transient only when it is the connection's (refused, reset, timed out), permanent when a
    certificate is refused on either side.
    """
    spec = validate_params(operation, params)
    if not message_id or len(message_id) > 64:
        raise InputError("message_id must be 1 to 64 characters", operation=operation)
    details: dict[str, Any] = {"operation": operation, "message_id": message_id}
    if settings.system != spec.system:
        raise InputError(
            f"{operation} belongs to {spec.system!r}, not to the settings of {settings.system!r}", **details
        )
    if not settings.enabled:
        raise PermanentAdapterError(f"the adapter for {settings.system!r} is disabled", **details)
    if tls is not None and not settings.endpoint.lower().startswith("https://"):
        # Secure mode (a client certificate given) never sends a signed call in clear text.
        raise PermanentAdapterError(
            f"the endpoint of {settings.system!r} is not https:// ({settings.endpoint}); secure mode refuses it",
            **details,
        )
    system = REGISTRY.system(spec.system)
    contract = system.contract
    started = time.perf_counter()
    with KEPT_SESSIONS.lend(tls) as session:  # connections kept alive between calls (see adapters.tls)
        guard = ReplyGuard(trust, message_id, partner=settings.partner) if trust is not None else None
        transport = GuardedTransport(
            session,
            connect_timeout=settings.connect_timeout,
            operation_timeout=settings.operation_timeout,
            reply_check=guard,
        )
        plugins = [SigningPlugin(signer)] if signer is not None else []
        try:
            document = _system_document(system, settings.wsdl_file)
            client = Client(document, transport=transport, settings=_zeep_settings(), plugins=plugins)
            service = client.create_service(contract.binding_qname, settings.endpoint)
            header_type = client.get_element(f"{{{EXCHANGE_NS}}}ExchangeHeader")
            header = header_type(
                client=CLIENT_NAME,
                service=f"{spec.system}.{spec.soap_operation}",
                messageId=message_id,
                userId=user_id,
                caseNumber=case_number,
                timestamp=utcnow(),
                protocolVersion=PROTOCOL_VERSION,
            )
            request = spec.to_request(params)
            if spec.body_message_id:
                request["messageId"] = message_id
            result = getattr(service, spec.soap_operation)(**request, _soapheaders=[header])
            reply = _unwrap(result, details)
            out = spec.from_reply(reply)
        except AdapterError:
            raise
        except Exception as exc:
            error = translate(exc, details)
            if error is None:
                raise
            log.warning("adapter call failed: %s", error.message, extra={"details": error.details})
            raise error from exc
        finally:
            if exchange_record is not None and transport.sent is not None:
                exchange_record.append(
                    exchanged(
                        transport.sent,
                        transport.received,
                        transport.status,
                        signed=signer is not None,
                        guard=guard,
                        transport_error=transport.refusal,
                    )
                )
    log.info(
        "adapter call %s ok in %.1f ms",
        operation,
        (time.perf_counter() - started) * 1000,
        extra={"details": details},
    )
    return out


def _unwrap(result: Any, details: dict[str, Any]) -> dict[str, Any]:
    """The reply body as a plain dict, after checking the echoed header names our message."""
    echoed = serialize_object(getattr(result, "header", None), dict)
    # zeep nests the header under its WSDL part name ("header"); unwrap down to the fields.
    while isinstance(echoed, dict) and "messageId" not in echoed and len(echoed) == 1:
        echoed = next(iter(echoed.values()))
    if not isinstance(echoed, dict) or echoed.get("messageId") != details["message_id"]:
        got = echoed.get("messageId") if isinstance(echoed, dict) else None
        raise PermanentAdapterError(
            f"reply does not echo message id {details['message_id']!r} (got {got!r})", **details
        )
    body = serialize_object(result.body, dict)
    if not isinstance(body, dict):
        raise PermanentAdapterError("reply body is empty", **details)
    return body


def translate(exc: BaseException, details: Mapping[str, Any]) -> AdapterError | None:
    """The Huiju error for a third-party exception, or None when it is not an adapter failure."""
    d = dict(details)
    if isinstance(exc, requests.Timeout):
        return TransientAdapterError(f"{d['operation']}: timed out ({exc.__class__.__name__})", **d)
    tls_error = _tls_error(exc)
    if tls_error is not None:
        return _tls_failure(tls_error, d)
    if isinstance(exc, requests.ConnectionError):
        return TransientAdapterError(f"{d['operation']}: connection failed", **d)
    if isinstance(exc, requests.RequestException):
        return PermanentAdapterError(f"{d['operation']}: request refused: {exc}", **d)
    if isinstance(exc, zeep_errors.Fault):
        return _fault(exc, d)
    if isinstance(exc, zeep_errors.TransportError):
        status = int(exc.status_code or 0)
        d["status_code"] = status
        kind = TransientAdapterError if status >= 500 or status == 429 else PermanentAdapterError
        if status == 200:
            return PermanentAdapterError(f"{d['operation']}: reply is not valid XML", **d)
        return kind(f"{d['operation']}: HTTP {status}", **d)
    if isinstance(exc, ReplyRefused):
        d.update(exc.details())
        kind = TransientAdapterError if exc.transient else PermanentAdapterError
        return kind(f"{d['operation']}: {exc.reason}", **d)
    if isinstance(exc, ReplyTooLarge):
        return PermanentAdapterError(f"{d['operation']}: {exc}", **d)
    if isinstance(exc, LoadRefused):
        return PermanentAdapterError(f"{d['operation']}: {exc}", **d)
    if isinstance(exc, zeep_errors.Error | etree.XMLSyntaxError):
        return PermanentAdapterError(f"{d['operation']}: invalid SOAP message: {exc}", **d)
    return None


def _fault(exc: zeep_errors.Fault, d: dict[str, Any]) -> AdapterError:
    code = str(exc.code or "")
    local = code.rpartition(":")[2]
    d["fault_code"] = local
    d["fault_string"] = exc.message
    detail_text = ""
    if exc.detail is not None:
        detail_text = " ".join(exc.detail.itertext())
    kind = TransientAdapterError if is_transient_fault(code, f"{exc.message} {detail_text}") else PermanentAdapterError
    return kind(f"{d['operation']}: SOAP fault {local}: {exc.message}", **d)


# TLS alerts by which a server refuses the client's certificate (RFC 8446 section 6.2).
_CERTIFICATE_ALERTS = ("CERTIFICATE", "UNKNOWN_CA", "ACCESS_DENIED")


def _tls_error(exc: BaseException) -> ssl.SSLError | None:
    """The :class:`ssl.SSLError` behind a requests/urllib3 error, if any.

    urllib3 keeps it in ``reason`` (MaxRetryError), in ``args`` (its SSLError, ProtocolError) or
    as the cause; the search visits each exception once.
    """
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        pending.extend(item for item in linked if isinstance(item, BaseException))
    return None


def _tls_failure(error: ssl.SSLError, d: dict[str, Any]) -> AdapterError:
    """Certificates refused on either side cannot be cured by retrying; a connection cut mid-handshake can."""
    reason = str(error.reason or error.__class__.__name__)
    d["tls_error"] = reason
    operation = d["operation"]
    if isinstance(error, ssl.SSLCertVerificationError):
        why = error.verify_message or str(error)
        return PermanentAdapterError(
            f"{operation}: TLS certificate verification failed: the server's certificate is not trusted ({why})", **d
        )
    if isinstance(error, ssl.SSLEOFError | ssl.SSLZeroReturnError | ssl.SSLSyscallError):
        return TransientAdapterError(f"{operation}: connection closed during the TLS handshake ({error})", **d)
    if "ALERT" in reason:
        if any(word in reason for word in _CERTIFICATE_ALERTS):
            return PermanentAdapterError(
                f"{operation}: TLS handshake refused by the server ({reason}): "
                "the client certificate is missing or not accepted",
                **d,
            )
        return PermanentAdapterError(f"{operation}: TLS handshake refused by the server ({reason})", **d)
    return PermanentAdapterError(f"{operation}: TLS handshake failed ({reason})", **d)
