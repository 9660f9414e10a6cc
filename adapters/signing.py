"""Signed SOAP between Huiju's adapters and a partner system, X-Road style, on the client side.

Egress: :class:`SigningPlugin` signs the envelope zeep built as the signing profile says
(WS-Security 1.1: a wsu:Timestamp, the certificate as a BinarySecurityToken, a Signature over the
Timestamp, the ExchangeHeader and the Body; :func:`certs.xmlsig.sign_envelope`). Ingress:
:class:`ReplyGuard` runs inside :class:`adapters.client.GuardedTransport`, on the raw reply bytes,
*before zeep reads anything*:

1. the reply must verify (:func:`certs.xmlsig.verify_envelope`): signed by a ``signing``
   certificate the trust store accepts (chain, revocation list, validity, role);
2. its signed ExchangeHeader must echo the request's ``messageId``;
3. and carry ``requestHash`` equal to :func:`certs.xmlsig.request_hash` of the exact request
   bytes sent, so an answer recorded for one question cannot be replayed against another.

The reply's Timestamp is not checked for age: requestHash binds the reply to this request, and a
receiver answers a retry with the reply it stored the first time. zeep then parses only a document
rebuilt from the verified header and Body; anything else is refused with :class:`ReplyRefused`,
which :func:`adapters.client.translate` turns into a ``PermanentAdapterError``. One exception keeps
retries working: a reply that does not verify but is a SOAP Fault saying the receiver is busy
(faultcode ``Server`` or "busy"/"unavailable"), or an HTTP 429/5xx that is not a SOAP envelope at
all, stays transient, as without signatures — believing it costs only a retry under the same message
id, and nothing of it is used.

Each call yields an :class:`Exchanged` record (exact request and reply bytes and the outcome of
the check) for the exchange layer's message log.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal

from lxml import etree
from zeep import Plugin

from adapters.contracts import EXCHANGE_NS
from certs.errors import CertificateError
from certs.store import SigningIdentity
from certs.trust import TrustStore, member_of
from certs.xmlsig import (
    DEFAULT_MAX_BYTES,
    SOAP11_NS,
    VerifiedEnvelope,
    parse_untrusted,
    request_hash,
    sign_envelope,
    verify_envelope,
)

ReplySignature = Literal["verified", "refused", "not-checked", "no-reply"]
TRANSIENT_WORDS = ("busy", "unavailable", "overload", "try again", "try later")


def is_transient_fault(code: str, text: str) -> bool:
    """A SOAP fault a retry may cure: faultcode ``Server`` (or ``Server.*``) or words saying "busy"."""
    local = code.rpartition(":")[2]
    return local.startswith("Server") or any(word in text.lower() for word in TRANSIENT_WORDS)


@dataclass(frozen=True, slots=True)
class Exchanged:
    """One request sent and what came back, for the message log.

    ``request`` and ``reply`` are the exact bytes on the wire (``reply`` is None when nothing
    arrived: a timeout or a refused connection). ``reply_signature`` is ``verified`` (signature,
    message id echo and requestHash all checked), ``refused`` (see ``reply_error``),
    ``not-checked`` (the call had no trust store) or ``no-reply``. A reply over the size cap is
    ``refused`` with ``reply`` None: it was not kept.
    """

    request: bytes
    reply: bytes | None
    signed: bool
    reply_signature: ReplySignature
    signer_subject: str | None
    request_hash: str
    http_status: int | None = None
    reply_error: str | None = None
    signer_fingerprint: str | None = None


class ReplyRefused(Exception):
    """A reply that failed the signature, message-id or requestHash check (nothing of it was used).

    ``transient`` is true only for an unverified "busy" SOAP Fault or HTTP 429/5xx; ``code`` is the
    certificate error's code (``signature-invalid``, ``certificate-untrusted``, ...) or one of
    ``message-id-mismatch``, ``request-hash-mismatch``, ``request-hash-missing``.
    """

    def __init__(
        self,
        reason: str,
        *,
        code: str,
        transient: bool = False,
        status_code: int | None = None,
        fault_code: str | None = None,
        fault_string: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.transient = transient
        self.status_code = status_code
        self.fault_code = fault_code
        self.fault_string = fault_string

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {"reply_check": self.code}
        if self.status_code is not None:
            out["status_code"] = self.status_code
        if self.fault_code is not None:
            out["fault_code"] = self.fault_code
            out["fault_string"] = self.fault_string
        return out


class SigningPlugin(Plugin):
    """Sign every outgoing envelope (Body and ExchangeHeader) with one signing identity."""

    def __init__(self, identity: SigningIdentity) -> None:
        self.identity = identity

    def egress(
        self, envelope: etree._Element, http_headers: dict[str, str], operation: Any, binding_options: Any
    ) -> tuple[etree._Element, dict[str, str]]:
        return sign_envelope(envelope, self.identity), http_headers


class ReplyGuard:
    """The ingress check of one call: verify the raw reply, then hand zeep only what was verified.

    Called by the transport with the exact request bytes sent, the HTTP status and the raw reply;
    returns the bytes zeep may parse or raises :class:`ReplyRefused`. Keeps what it saw for the
    :class:`Exchanged` record.
    """

    def __init__(
        self, trust: TrustStore, message_id: str, *, partner: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.trust = trust
        self.message_id = message_id
        self.partner = partner
        self.max_bytes = max_bytes
        self.verified: VerifiedEnvelope | None = None
        self.error: str | None = None

    def __call__(self, request: bytes, status: int, reply: bytes) -> bytes:
        try:
            verified = verify_envelope(reply, self.trust, max_bytes=self.max_bytes)
        except CertificateError as exc:
            self.error = f"{exc.code}: {exc.message}"
            raise self._unverified(status, reply, exc) from exc
        signer = member_of(verified.signer)
        if self.partner is not None and signer != self.partner:
            # Trusted, but not the system called: a reply reflected from another member.
            self.error = f"signer-unexpected: signed by member {signer!r}, not {self.partner!r}"
            raise ReplyRefused(
                f"signed reply comes from member {signer!r}, not from {self.partner!r}",
                code="signer-unexpected",
                status_code=status,
            )
        echoed = _header_text(verified.header, "messageId")
        if echoed != self.message_id:
            self.error = f"message-id-mismatch: the reply answers {echoed!r}, not {self.message_id!r}"
            raise ReplyRefused(
                f"signed reply answers message id {echoed!r}, not {self.message_id!r}",
                code="message-id-mismatch",
                status_code=status,
            )
        claimed = _header_text(verified.header, "requestHash")
        expected = request_hash(request, max_bytes=self.max_bytes)
        if not claimed:
            self.error = "request-hash-missing: the signed reply carries no requestHash"
            raise ReplyRefused("signed reply carries no requestHash", code="request-hash-missing", status_code=status)
        if claimed != expected:
            self.error = f"request-hash-mismatch: {claimed} is not {expected}"
            raise ReplyRefused(
                f"signed reply answers another request (requestHash {claimed[:16]}..., "
                f"this request {expected[:16]}...)",
                code="request-hash-mismatch",
                status_code=status,
            )
        self.verified = verified
        return _rebuild(verified)

    def _unverified(self, status: int, reply: bytes, exc: CertificateError) -> ReplyRefused:
        """Why an unverifiable reply is refused, and whether a retry may still help."""
        http_failure = status == 429 or status >= 500
        try:
            root = parse_untrusted(reply, max_bytes=self.max_bytes)
        except CertificateError:
            # Not XML (an HTML or text error page) or hostile XML: nothing of it is read.
            if http_failure:
                return ReplyRefused(
                    f"HTTP {status} with a body that is not a SOAP envelope",
                    code="http-error",
                    transient=True,
                    status_code=status,
                )
            return ReplyRefused(f"reply refused: {exc.message}", code=exc.code, status_code=status)
        fault = _fault_of(root)
        if fault is not None:
            code, text = fault
            local = code.rpartition(":")[2]
            return ReplyRefused(
                f"unverified SOAP fault {local}: {text} (reply refused: {exc.message})",
                code=exc.code,
                transient=is_transient_fault(code, text),
                status_code=status,
                fault_code=local,
                fault_string=text,
            )
        if http_failure:
            return ReplyRefused(
                f"HTTP {status} with a reply that does not verify ({exc.message})",
                code=exc.code,
                transient=True,
                status_code=status,
            )
        return ReplyRefused(f"reply refused: {exc.message}", code=exc.code, status_code=status)


def exchanged(
    request: bytes,
    reply: bytes | None,
    status: int | None,
    *,
    signed: bool,
    guard: ReplyGuard | None,
    transport_error: str | None = None,
) -> Exchanged:
    """The record of one call, from what the transport sent and received and what the guard found."""
    verified = guard.verified if guard is not None else None
    error = transport_error or (guard.error if guard is not None else None)
    outcome: ReplySignature
    if transport_error is not None:
        outcome = "refused"
    elif reply is None:
        outcome = "no-reply"
    elif guard is None:
        outcome = "not-checked"
    elif verified is not None:
        outcome = "verified"
    else:
        outcome = "refused"
    try:
        digest = request_hash(request)
    except CertificateError:
        digest = ""
    return Exchanged(
        request=request,
        reply=reply,
        signed=signed,
        reply_signature=outcome,
        signer_subject=verified.signer_subject if verified is not None else None,
        request_hash=digest,
        http_status=status,
        reply_error=error,
        signer_fingerprint=verified.signer_fingerprint if verified is not None else None,
    )


# --- helpers -------------------------------------------------------------------------------------


def _header_text(header: etree._Element, name: str) -> str:
    return (header.findtext(f"{{{EXCHANGE_NS}}}{name}") or "").strip()


def _rebuild(verified: VerifiedEnvelope) -> bytes:
    """A new envelope holding only the verified ExchangeHeader and Body (never the received tree)."""
    body = copy.deepcopy(verified.body)
    soap = etree.QName(body).namespace or SOAP11_NS
    envelope = etree.Element(f"{{{soap}}}Envelope", nsmap={"soap-env": soap})
    header = etree.SubElement(envelope, f"{{{soap}}}Header")
    header.append(copy.deepcopy(verified.header))
    envelope.append(body)
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def _fault_of(root: etree._Element) -> tuple[str, str] | None:
    """faultcode and faultstring (plus detail text) of a SOAP 1.1 Fault, or None."""
    fault = root.find(f"{{{SOAP11_NS}}}Body/{{{SOAP11_NS}}}Fault")
    if fault is None:
        return None
    code = (fault.findtext("faultcode") or "").strip()
    text = (fault.findtext("faultstring") or "").strip()
    detail = fault.find("detail")
    if detail is not None:
        text = f"{text} {' '.join(detail.itertext()).strip()}".strip()
    return code, text[:500]
