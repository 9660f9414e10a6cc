"""The receiving side of the exchange protocol: verify every request, sign every reply (X-Road style).

Used by the sandbox (the simulated government systems) and by Huiju's own inbound endpoint
(callbacks from those systems). With a :class:`ReceiverSecurity` a receiver behaves like a
member behind a security server:

- a request must verify with :func:`certs.xmlsig.verify_envelope` (the WS-Security profile: signed
  Body, ExchangeHeader and Timestamp, one signature by a trusted, unrevoked, unexpired ``signing``
  certificate), its header ``timestamp`` and wsu:Timestamp must lie within ``max_skew_seconds`` of
  the receiver's clock and its header must conform to ``exchange_header.xsd``; otherwise it is
  refused with a SOAP Client Fault saying why, recorded among the *refusals* and never acted on;
- only the elements ``verify_envelope`` returned are read to act (never the received tree again);
- every reply (answers and faults alike) carries an ExchangeHeader with ``requestHash`` — the
  :func:`certs.xmlsig.request_hash` of the received bytes — and is signed by the sandbox.

Replays. The journal keys on the message id and the digest of the operation element in the Body (its
requestHash, :mod:`.state`). A message id that comes back with the *same* Body (re-signed: a new
wsu:Id and Timestamp) is Huiju retrying (a timeout, a lost reply): it gets the stored, signed answer
and nothing is done twice — even if the repeat is a byte-for-byte replay by someone else, it can
only fetch an answer already given to the sender. A message id that comes back with *another* Body
is refused: it is not a retry, and acting on it would let a used id carry a new instruction.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from adapters.contracts import EXCHANGE_NS, PROTOCOL_VERSION, header_schema
from adapters.soapserver import SOAP_ENV, SoapFault, SoapRequest, fault_element, payload_digest, to_dict
from certs.errors import CertificateError, SoapVersionMismatch
from certs.store import SigningIdentity
from certs.trust import TrustStore, member_of
from certs.xmlsig import parse_untrusted, request_hash, sign_envelope, verify_envelope

DEFAULT_MAX_SKEW_SECONDS = 300
VERSION_MISMATCH = SoapVersionMismatch.code
MESSAGE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_HEADER_FIELDS = ("client", "service", "messageId", "userId", "caseNumber", "timestamp", "protocolVersion")


@dataclass(frozen=True, slots=True)
class ReceiverSecurity:
    """Trust store to verify requests with, identity to sign replies with, allowed clock skew.

    ``member`` names the receiver in the headers of the replies it makes up itself (refusals).
    """

    trust: TrustStore
    signer: SigningIdentity
    max_skew_seconds: float = DEFAULT_MAX_SKEW_SECONDS
    member: str = "sandbox"


#: The sandbox's name for it (it was the first receiver).
SandboxSecurity = ReceiverSecurity


class Refused(Exception):
    """A request refused before anything was acted on; ``code`` names the check that failed."""

    def __init__(self, code: str, reason: str, message_id: str | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.message_id = message_id

    @property
    def faultstring(self) -> str:
        return f"request refused ({self.code}): {self.reason}"

    @property
    def fault_code(self) -> str:
        """SOAP 1.1's faultcode for it: VersionMismatch for an envelope of another SOAP version
        (SOAP 1.1 §4.4.1), Client for everything else refused."""
        return "VersionMismatch" if self.code == VERSION_MISMATCH else "Client"


def verified_request(data: bytes, security: ReceiverSecurity, *, limit: int, now: datetime) -> SoapRequest:
    """Verify a received request and build the request to act on from its verified parts only.

    Refused (each with its own code): what does not verify (:func:`certs.xmlsig.verify_envelope`,
    SOAP 1.2 as ``version-mismatch``), a messageId outside the pattern, a header or wsu:Timestamp
    time more than ``max_skew_seconds`` from ``now`` or an expired Timestamp, a header the schema
    (``exchange_header.xsd``) does not accept, and a Body without exactly one element.
    """
    try:
        verified = verify_envelope(data, security.trust, max_bytes=limit)
        digest = request_hash(data, max_bytes=limit)
    except CertificateError as exc:
        raise Refused(exc.code, exc.message) from exc
    if digest != verified.request_hash:
        # Cannot happen for a document whose signature verified; refuse rather than guess.
        raise Refused("signature-invalid", "the signed Body is not the Body of the envelope")
    header = {
        etree.QName(child).localname: (child.text or "").strip()
        for child in verified.header
        if isinstance(child.tag, str)
    }
    message_id = header.get("messageId") or None
    if message_id is None:
        raise Refused("header-invalid", "the signed ExchangeHeader carries no messageId")
    if not MESSAGE_ID.fullmatch(message_id):
        raise Refused("header-invalid", "the messageId must be 1 to 64 letters, digits or . _ : -")
    _check_timestamp(header.get("timestamp", ""), security.max_skew_seconds, now, message_id)
    _check_security_timestamp(verified.created, verified.expires, security.max_skew_seconds, now, message_id)
    problem = header_problem(verified.header)
    if problem is not None:
        raise Refused("header-invalid", problem, message_id)
    payloads = [child for child in verified.body if isinstance(child.tag, str)]
    if len(payloads) != 1:
        raise Refused("body-invalid", "the SOAP Body must hold exactly one element", message_id)
    payload = payloads[0]
    qname = etree.QName(payload)
    return SoapRequest(
        header=header,
        header_element=verified.header,
        body=payload,
        namespace=qname.namespace or "",
        operation=qname.localname,
        digest=payload_digest(payload),
        values=to_dict(payload),
        signer=member_of(verified.signer),
    )


def header_problem(header: etree._Element) -> str | None:
    """What ``exchange_header.xsd`` finds wrong with an ExchangeHeader, or None: the contract is
    what receivers enforce, so they validate against it."""
    schema = header_schema()
    if schema.validate(etree.ElementTree(copy.deepcopy(header))):
        return None
    error = schema.error_log.last_error
    message = error.message if error is not None else "invalid"
    return f"the exchange header does not conform to exchange_header.xsd: {message}"


def _check_timestamp(text: str, max_skew: float, now: datetime, message_id: str) -> None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Refused(
            "timestamp-invalid", f"the header timestamp {text[:40]!r} is not a date-time", message_id
        ) from None
    if moment.tzinfo is None:
        raise Refused("timestamp-invalid", "the header timestamp must carry a UTC offset", message_id)
    skew = abs((now - moment).total_seconds())
    if skew > max_skew:
        raise Refused(
            "timestamp-stale",
            f"the header timestamp {moment.astimezone(UTC).isoformat()} is {skew:.0f} s from the "
            f"receiver's clock, more than the {max_skew:.0f} s allowed",
            message_id,
        )


def _check_security_timestamp(
    created: datetime, expires: datetime, max_skew: float, now: datetime, message_id: str
) -> None:
    """WS-Security's wsu:Timestamp: Created within the skew of our clock, either way, and Expires not
    past by our clock (as WSS4J and WCF check it)."""
    skew = abs((now - created).total_seconds())
    if skew > max_skew:
        raise Refused(
            "timestamp-stale",
            f"the wsu:Timestamp was created at {created.isoformat()}, {skew:.0f} s from the receiver's "
            f"clock, more than the {max_skew:.0f} s allowed",
            message_id,
        )
    if now > expires:
        raise Refused("timestamp-stale", f"the wsu:Timestamp expired at {expires.isoformat()}", message_id)


def claimed_message_id(data: bytes, *, limit: int) -> str | None:
    """The message id a refused request claims (for the refusal record and the Fault's echo only)."""
    try:
        root = parse_untrusted(data, max_bytes=limit)
    except CertificateError:
        return None
    text = root.findtext(f"{{{SOAP_ENV}}}Header/{{{EXCHANGE_NS}}}ExchangeHeader/{{{EXCHANGE_NS}}}messageId")
    value = (text or "").strip()
    return value[:64] or None


def signed_reply(
    security: ReceiverSecurity,
    content: etree._Element | SoapFault,
    *,
    request: bytes,
    limit: int,
    echo: dict[str, str] | None,
    system: str,
    message_id: str | None,
) -> bytes:
    """A signed reply envelope: the response element or a Fault, and an ExchangeHeader with requestHash.

    ``echo`` is the verified request header to echo; a refusal has none and gets a header naming
    the sandbox and the message id the request claimed.
    """
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    header = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Header")
    header.append(
        _reply_header(echo, request, limit=limit, system=system, message_id=message_id, member=security.member)
    )
    body = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    if isinstance(content, SoapFault):
        body.append(fault_element(content))
    else:
        body.append(copy.deepcopy(content))
    signed = sign_envelope(envelope, security.signer)
    return etree.tostring(signed, xml_declaration=True, encoding="utf-8")


def _reply_header(
    echo: dict[str, str] | None, request: bytes, *, limit: int, system: str, message_id: str | None, member: str
) -> etree._Element:
    node = etree.Element(f"{{{EXCHANGE_NS}}}ExchangeHeader", nsmap={"ex": EXCHANGE_NS})
    values = dict(echo or {})
    if echo is None:
        values = {
            "client": member,
            "service": system[:64],
            "messageId": message_id or "unknown",
            "userId": "system",
            "timestamp": datetime.now(UTC).isoformat(),
            "protocolVersion": PROTOCOL_VERSION,
        }
    for name in _HEADER_FIELDS:
        if values.get(name):
            etree.SubElement(node, f"{{{EXCHANGE_NS}}}{name}").text = values[name]
    try:
        digest: str | None = request_hash(request, max_bytes=limit)
    except CertificateError:
        digest = None  # not XML or not SOAP: there is no Body to bind the answer to
    if digest is not None:
        etree.SubElement(node, f"{{{EXCHANGE_NS}}}requestHash").text = digest
    return node
