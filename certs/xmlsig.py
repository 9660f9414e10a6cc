"""Signed SOAP 1.1 envelopes in the OASIS WS-Security 1.1 shapes: sign, and verify safely.

The signing profile (written out for partners in ``docs/integrator/signing-profile.md`` and in the
contracts' documentation) is the X.509 Token Profile 1.1 in the layout any WS-Security stack
produces by configuration (Apache WSS4J/CXF ``Timestamp Signature``, .NET WCF asymmetric binding)::

    <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
      <soap:Header>
        <wsse:Security soap:mustUnderstand="1">
          <wsu:Timestamp wsu:Id="TS-..."> Created (UTC, Z), Expires </wsu:Timestamp>
          <wsse:BinarySecurityToken wsu:Id="X509-..." ValueType="...#X509v3"
              EncodingType="...#Base64Binary"> the signer's certificate (DER, base64) </...>
          <ds:Signature> SignedInfo: exclusive c14n; ecdsa-sha256 or rsa-sha256; three References,
              to the Timestamp, the ExchangeHeader and the Body, each by "#" + wsu:Id with one
              exclusive-c14n Transform and a SHA-256 digest. KeyInfo: a SecurityTokenReference
              whose wsse:Reference points at the BinarySecurityToken </ds:Signature>
        </wsse:Security>
        <hx:ExchangeHeader wsu:Id="...">...</hx:ExchangeHeader>    hx = urn:huiju:exchange:1
      </soap:Header>
      <soap:Body wsu:Id="...">...</soap:Body>
    </soap:Envelope>

Verification (:func:`verify_envelope`) parses with DTDs, entities and network access off and a
byte cap, refuses any DOCTYPE, answers a SOAP 1.2 envelope with :class:`~certs.errors.SoapVersionMismatch`,
and accepts exactly that layout and no looser one: one Security header (no actor), holding one
Timestamp, one X.509 token and one Signature, nothing else; the three signed Ids each occurring
once in the whole document and belonging to the envelope's own Body, ExchangeHeader and Timestamp
(signature wrapping is refused); the token's certificate checked against the
:class:`~certs.trust.TrustStore` (chain, revocation, validity, signing role); then the suite
verifies the signature and digests with that certificate's key, and ONLY the elements it returned
as signed (parsed from the canonical bytes whose digests matched) are used — never elements looked
up again in the received document. Whether the Timestamp
is fresh is the receiver's decision (a reply is bound to its request by requestHash instead):
:class:`VerifiedEnvelope` carries its Created and Expires.

The cryptography sits behind :class:`SignatureSuite`. The default, :class:`~certs.dsig.ProfileSuite`,
reads this profile only, on lxml and ``cryptography``; :class:`SignxmlSuite` does the same with
signxml, a general XML-DSig library (the tests check each against the other). SM2/SM3 (GB/T 32918,
GB/T 32905), which neither signs with today, would be a suite beside them.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConfiguration,
    SignatureConstructionMethod,
    SignatureMethod,
    XMLSigner,
    XMLVerifier,
)
from signxml.exceptions import InvalidCertificate, SignXMLException

from certs.dsig import (
    DS_NS,
    ProfileSuite,
    SignedPart,
    base64_value,
    canonical,
    elements_by_id,
    prefix_list,
    safe_parser,
    with_default_namespace,
)
from certs.errors import (
    MessageTooLarge,
    SignatureInvalid,
    SigningError,
    SoapVersionMismatch,
    UntrustedCertificate,
    XmlRefused,
)
from certs.store import SigningIdentity, fingerprint
from certs.trust import TrustStore
from huiju.i18n import Message, _

EXCHANGE_NS = "urn:huiju:exchange:1"
SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64_BINARY = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
WSU_ID = f"{{{WSU_NS}}}Id"
EXCLUSIVE_C14N = CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0
DEFAULT_MAX_BYTES = 2 * 1024 * 1024
#: How long a signed message's Timestamp says it is good for (wsu:Expires - wsu:Created).
TIMESTAMP_SECONDS = 300

_ID_ATTRIBUTES = {"Id", "ID", "id"}
_XML_ID = "{http://www.w3.org/XML/1998/namespace}id"
_SECURITY = f"{{{WSSE_NS}}}Security"
_TIMESTAMP = f"{{{WSU_NS}}}Timestamp"
_TOKEN = f"{{{WSSE_NS}}}BinarySecurityToken"
_SIGNATURE = f"{{{DS_NS}}}Signature"
_HEADER = f"{{{EXCHANGE_NS}}}ExchangeHeader"
_BODY = f"{{{SOAP11_NS}}}Body"


@dataclass(frozen=True)
class VerifiedEnvelope:
    """What a verified envelope may be trusted for: only the signed Body, exchange header and Timestamp."""

    body: etree._Element
    header: etree._Element
    signer: x509.Certificate
    request_hash: str
    created: datetime
    expires: datetime

    @property
    def signer_subject(self) -> str:
        return self.signer.subject.rfc4514_string()

    @property
    def signer_serial(self) -> int:
        return self.signer.serial_number

    @property
    def signer_fingerprint(self) -> str:
        return fingerprint(self.signer)


class SignatureSuite(Protocol):
    """The cryptography of an XML signature, apart from the SOAP layout and the trust decisions."""

    def sign(
        self,
        document: etree._Element,
        identity: SigningIdentity,
        reference_ids: Sequence[str],
        key_info: etree._Element,
    ) -> etree._Element:
        """A detached ``ds:Signature`` over the elements of ``document`` carrying ``reference_ids``,
        with ``key_info`` as its KeyInfo; the caller places it."""
        ...

    def verify(self, document: etree._Element, signer: x509.Certificate, *, at: datetime | None) -> list[SignedPart]:
        """Verify the document's one signature (in its Security header) with ``signer``'s key; return
        the signed references (parsed from the canonical bytes that were signed). Raise a
        :class:`~certs.errors.CertificateError` on any failure."""
        ...


class SignxmlSuite:
    """signxml 5, ecdsa-sha256 or rsa-sha256, SHA-256 digests, exclusive c14n."""

    signature_methods = frozenset({SignatureMethod.ECDSA_SHA256, SignatureMethod.RSA_SHA256})
    digest_algorithms = frozenset({DigestAlgorithm.SHA256})

    def sign(
        self,
        document: etree._Element,
        identity: SigningIdentity,
        reference_ids: Sequence[str],
        key_info: etree._Element,
    ) -> etree._Element:
        method = SignatureMethod.ECDSA_SHA256 if identity.key_type == "ec" else SignatureMethod.RSA_SHA256
        signer = XMLSigner(
            method=SignatureConstructionMethod.detached,
            signature_algorithm=method,
            digest_algorithm=DigestAlgorithm.SHA256,
            c14n_algorithm=EXCLUSIVE_C14N,
        )
        try:
            signature: etree._Element = signer.sign(
                document, key=identity.key, key_info=key_info, reference_uri=[f"#{i}" for i in reference_ids]
            )
        except SignXMLException as exc:
            raise SigningError(_("cannot sign the envelope: {error}", error=str(exc))) from exc
        return signature

    def verify(self, document: etree._Element, signer: x509.Certificate, *, at: datetime | None) -> list[SignedPart]:
        config = SignatureConfiguration(
            location=f"./{{{SOAP11_NS}}}Header/{_SECURITY}/",
            expect_references=3,
            signature_methods=self.signature_methods,
            digest_algorithms=self.digest_algorithms,
            verification_time=at,
        )
        try:
            # The shape of the Signature was checked already (_check_signature_shape); signxml's own
            # schema check would refuse the InclusiveNamespaces that WSS4J adds to exclusive c14n.
            outcome = _ProfileVerifier().verify(
                document, x509_cert=signer, parser=safe_parser(), expect_config=config, validate_schema=False
            )
        except InvalidCertificate as exc:
            raise UntrustedCertificate(_("the signing certificate does not verify: {error}", error=str(exc))) from exc
        except (SignXMLException, etree.DocumentInvalid) as exc:
            raise SignatureInvalid(_("the signature does not verify: {error}", error=str(exc))) from exc
        results = outcome if isinstance(outcome, list) else [outcome]
        expected_key = _public_pem(signer)
        parts: list[SignedPart] = []
        for result in results:
            key = result.signature_key
            if not isinstance(key, bytes) or key != expected_key:
                raise SignatureInvalid(_("the signature was not made with the key of the certificate checked"))
            if result.signed_xml is None:
                raise SignatureInvalid(_("a signed reference is not an XML element"))
            parts.append(SignedPart(element=result.signed_xml, data=result.signed_data))
        return parts


class _ProfileVerifier(XMLVerifier):
    """signxml's verifier, with the ``#default`` token of an InclusiveNamespaces PrefixList understood.

    Exclusive c14n (W3C, §3) lets a PrefixList name the default namespace as ``#default``: it is then
    rendered on the apex element as inclusive c14n would. WSS4J lists it for every element whose
    subtree does not use the default namespace in scope; libxml2 (under lxml and signxml) reads the
    token as a prefix literally named "#default" and leaves the declaration out, so the digest of a
    correct signature would not match. Where the subtree does not use the default namespace — the
    only case WSS4J lists it — the right output is the same with ``xmlns="..."`` on the apex.
    """

    def _c14n(self, nodes, algorithm: CanonicalizationMethod, inclusive_ns_prefixes=None):  # type: ignore[no-untyped-def]
        prefixes = list(inclusive_ns_prefixes or [])
        if "#default" not in prefixes:
            return super()._c14n(nodes, algorithm=algorithm, inclusive_ns_prefixes=inclusive_ns_prefixes)
        named = [prefix for prefix in prefixes if prefix != "#default"] or None
        output = super()._c14n(nodes, algorithm=algorithm, inclusive_ns_prefixes=named)
        if not isinstance(nodes, etree._Element):
            return output
        return with_default_namespace(nodes, output)


# --- public functions ----------------------------------------------------------------------------


def sign_envelope(
    envelope: etree._Element,
    identity: SigningIdentity,
    *,
    suite: SignatureSuite | None = None,
    at: datetime | None = None,
    ttl_seconds: int = TIMESTAMP_SECONDS,
) -> etree._Element:
    """Sign a SOAP 1.1 envelope as the profile says; return a signed copy (the argument is not changed).

    Adds a ``wsse:Security`` header (Timestamp created ``at``, default now, expiring ``ttl_seconds``
    later; the signer's certificate as a BinarySecurityToken; the Signature) and ``wsu:Id`` to the
    Body and the ExchangeHeader unless they carry one.
    """
    document = copy.deepcopy(envelope)
    if _soap_namespace(document, error=SigningError) != SOAP11_NS:
        raise SigningError(_("only SOAP 1.1 envelopes are signed"))
    header = _only_child(document, f"{{{SOAP11_NS}}}Header", SigningError)
    body = _only_child(document, _BODY, SigningError)
    exchange = _only_child(header, _HEADER, SigningError)
    if list(document.iter(_SECURITY)):
        raise SigningError(_("the envelope already carries a Security header"))
    body_id = body.get(WSU_ID) or _new_id("id")
    header_id = exchange.get(WSU_ID) or _new_id("id")
    if body_id == header_id:
        raise SigningError(_("the Body and the exchange header need different Ids"))
    body.set(WSU_ID, body_id)
    exchange.set(WSU_ID, header_id)
    created = (at or datetime.now(UTC)).astimezone(UTC)
    timestamp_id, token_id = _new_id("TS"), _new_id("X509")
    security = etree.Element(_SECURITY, nsmap={"wsse": WSSE_NS, "wsu": WSU_NS})
    security.set(f"{{{SOAP11_NS}}}mustUnderstand", "1")
    header.insert(0, security)
    timestamp = etree.SubElement(security, _TIMESTAMP, {WSU_ID: timestamp_id})
    etree.SubElement(timestamp, f"{{{WSU_NS}}}Created").text = format_utc(created)
    etree.SubElement(timestamp, f"{{{WSU_NS}}}Expires").text = format_utc(created + timedelta(seconds=ttl_seconds))
    token = etree.SubElement(security, _TOKEN, {"EncodingType": BASE64_BINARY, "ValueType": X509V3, WSU_ID: token_id})
    token.text = base64.b64encode(identity.certificate.public_bytes(serialization.Encoding.DER)).decode()
    # wsu declared once, on the Envelope, as the stacks that read this expect to see it (not ns0, ns1).
    etree.cleanup_namespaces(document, top_nsmap={"wsu": WSU_NS})
    key_info = etree.Element(f"{{{DS_NS}}}KeyInfo", nsmap={"ds": DS_NS})
    reference = etree.SubElement(etree.SubElement(key_info, f"{{{WSSE_NS}}}SecurityTokenReference"),
                                 f"{{{WSSE_NS}}}Reference")  # fmt: skip
    reference.set("URI", f"#{token_id}")
    reference.set("ValueType", X509V3)
    signature = (suite or ProfileSuite()).sign(document, identity, [timestamp_id, header_id, body_id], key_info)
    security.append(signature)
    return document


def verify_envelope(
    envelope_bytes: bytes,
    trust: TrustStore,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    suite: SignatureSuite | None = None,
    at: datetime | None = None,
) -> VerifiedEnvelope:
    """Verify a received envelope and return its signed Body, exchange header and Timestamp.

    ``at`` verifies at another moment than now (an archived message). Raises :class:`XmlRefused`
    (:class:`SoapVersionMismatch` for SOAP 1.2), :class:`SignatureInvalid` or a certificate error
    that says why.
    """
    root = parse_untrusted(envelope_bytes, max_bytes=max_bytes)
    _soap_namespace(root, error=XmlRefused)
    header = _only_child(root, f"{{{SOAP11_NS}}}Header", SignatureInvalid)
    body = _only_child(root, _BODY, XmlRefused)
    exchange = _only_child(header, _HEADER, SignatureInvalid)
    security = _security_header(root, header)
    timestamp, token, signature = _security_children(security)
    body_id, header_id, timestamp_id = _wsu_id(body), _wsu_id(exchange), _wsu_id(timestamp)
    token_id = _wsu_id(token)
    elements_by_id(root, (body_id, header_id, timestamp_id, token_id), error=SignatureInvalid)
    _check_signed_info(signature, {body_id, header_id, timestamp_id})
    signer = _token_certificate(token, signature, token_id)
    trust.check(signer, role="signing", at=at)
    parts = (suite or ProfileSuite()).verify(root, signer, at=at)
    signed_body = _signed_part(parts, _BODY, body_id)
    signed_header = _signed_part(parts, _HEADER, header_id)
    signed_timestamp = _signed_part(parts, _TIMESTAMP, timestamp_id)
    created, expires = _timestamp_times(signed_timestamp.element)
    return VerifiedEnvelope(
        body=signed_body.element,
        header=signed_header.element,
        signer=signer,
        request_hash=body_digest(signed_body.element),
        created=created,
        expires=expires,
    )


def request_hash(envelope_bytes: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """SHA-256 (lowercase hex) over the exclusive canonical form (exc-c14n, no inclusive prefixes) of
    the element inside the envelope's ``soap:Body`` (the operation element; were there several, of
    each in turn). The Body's own attributes are left out: its wsu:Id is the signing stack's, new at
    every signing, and a retry of the same question must get the same answer.

    Like X-Road's ``requestHash``, a reply carries this digest of the request it answers, which binds
    the answer to that question: replayed against another one, it does not match. For a signed
    request it equals :attr:`VerifiedEnvelope.request_hash`.
    """
    root = parse_untrusted(envelope_bytes, max_bytes=max_bytes)
    _soap_namespace(root, error=XmlRefused)
    return body_digest(_only_child(root, _BODY, XmlRefused))


def body_digest(body: etree._Element) -> str:
    """The requestHash of a ``soap:Body`` element (see :func:`request_hash`)."""
    digest = hashlib.sha256()
    for child in body:
        if isinstance(child.tag, str):
            # The signature's own c14n (no comments): a comment in the question changes nothing asked.
            digest.update(canonical(child))
    return digest.hexdigest()


def format_utc(moment: datetime) -> str:
    """A wsu:Created / wsu:Expires value: UTC with ``Z`` and milliseconds (WS-I BSP 1.1 allows no more)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_untrusted(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse XML from outside: a byte cap, no DTD (no DOCTYPE at all), no entities, no network."""
    if not isinstance(data, bytes | bytearray):
        raise XmlRefused(_("the message must be bytes, not {kind}", kind=type(data).__name__))
    if len(data) > max_bytes:
        raise MessageTooLarge(
            _("the message has {size} bytes, more than the limit of {limit}", size=len(data), limit=max_bytes)
        )
    if b"<!DOCTYPE" in data:
        raise XmlRefused(_("a DOCTYPE (DTD or entity declarations) is not allowed"))
    try:
        root = etree.fromstring(bytes(data), parser=safe_parser())
    except etree.XMLSyntaxError as exc:
        raise XmlRefused(_("the message is not well-formed XML: {error}", error=str(exc))) from exc
    if root is None:
        raise XmlRefused(_("the message is not well-formed XML: {error}", error="empty document"))
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise XmlRefused(_("a DOCTYPE (DTD or entity declarations) is not allowed"))
    if any(True for _node in root.iter(etree.Entity)):
        raise XmlRefused(_("entity references are not allowed"))
    return root


def soap_version_problem(root: etree._Element) -> Message | None:
    """Why ``root`` is not a SOAP 1.1 envelope although it is an Envelope (SOAP 1.1 §4.4.1
    VersionMismatch: "an invalid namespace for the SOAP Envelope element"), or None."""
    tag = etree.QName(root)
    if tag.localname != "Envelope" or not tag.namespace or tag.namespace == SOAP11_NS:
        return None
    if tag.namespace == SOAP12_NS:
        return _("a SOAP 1.2 envelope; this endpoint speaks SOAP 1.1 ({namespace})", namespace=SOAP11_NS)
    return _("an Envelope in namespace {found}; this endpoint speaks SOAP 1.1 ({namespace})",
             found=tag.namespace, namespace=SOAP11_NS)  # fmt: skip


# --- helpers -------------------------------------------------------------------------------------


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def _public_pem(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _soap_namespace(root: etree._Element, *, error: type[Exception]) -> str:
    problem = soap_version_problem(root)
    if problem is not None:
        raise SoapVersionMismatch(problem)
    tag = etree.QName(root)
    if tag.localname != "Envelope" or tag.namespace != SOAP11_NS:
        raise error(_("the document is not a SOAP envelope (root element {tag})", tag=str(root.tag)))
    return tag.namespace


def _only_child(parent: etree._Element, tag: str, error: type[Exception]) -> etree._Element:
    found = parent.findall(tag)
    if len(found) != 1:
        name = etree.QName(tag).localname
        raise error(_("the envelope must have exactly one {name} element, found {count}", name=name, count=len(found)))
    return found[0]


def _security_header(root: etree._Element, header: etree._Element) -> etree._Element:
    everywhere = list(root.iter(_SECURITY))
    signatures = list(root.iter(_SIGNATURE))
    if not everywhere and not signatures:
        raise SignatureInvalid(_("the message is not signed"))
    mine = header.findall(_SECURITY)
    if len(everywhere) != 1 or len(mine) != 1:
        raise SignatureInvalid(_("the message must carry exactly one wsse:Security header"))
    security = mine[0]
    if security.get(f"{{{SOAP11_NS}}}actor") is not None:
        raise SignatureInvalid(_("the wsse:Security header must not name an actor: it is for the receiver"))
    if len(signatures) != 1 or signatures[0].getparent() is not security:
        raise SignatureInvalid(_("the message must carry exactly one signature, in its Security header"))
    return security


def _security_children(security: etree._Element) -> tuple[etree._Element, etree._Element, etree._Element]:
    """One Timestamp, one BinarySecurityToken and one Signature, nothing else; the token before the
    Signature that uses it (WS-SecurityPolicy's Strict layout). Where the Timestamp sits varies by
    stack (first for WCF and Huiju, last for WSS4J's "Timestamp Signature"), so it may sit anywhere."""
    children = [child for child in security if isinstance(child.tag, str)]
    tags = [child.tag for child in children]
    if sorted(tags) != sorted([_TIMESTAMP, _TOKEN, _SIGNATURE]) or tags.index(_TOKEN) > tags.index(_SIGNATURE):
        found = ", ".join(etree.QName(child).localname for child in children) or "nothing"
        raise SignatureInvalid(
            _("the Security header must hold one Timestamp, one BinarySecurityToken and then one Signature, "
              "and nothing else; found {found}", found=found)
        )  # fmt: skip
    return children[tags.index(_TIMESTAMP)], children[tags.index(_TOKEN)], children[tags.index(_SIGNATURE)]


def _wsu_id(element: etree._Element) -> str:
    value = element.get(WSU_ID)
    if not value:
        raise SignatureInvalid(
            _("the {name} element carries no wsu:Id, so it cannot be signed", name=etree.QName(element).localname)
        )
    return value


def _tags(element: etree._Element) -> list[str]:
    return [etree.QName(child).localname for child in element if isinstance(child.tag, str)]


def _check_signature_shape(signature: etree._Element) -> etree._Element:
    """The XML-DSig structure the profile uses, and nothing more (no Object, no Manifest): the
    Signature's SignedInfo, SignatureValue and KeyInfo; SignedInfo's CanonicalizationMethod,
    SignatureMethod and References; at most an InclusiveNamespaces inside a c14n algorithm."""
    ds = f"{{{DS_NS}}}"
    shape = [f"{ds}SignedInfo", f"{ds}SignatureValue", f"{ds}KeyInfo"]
    if [child.tag for child in signature if isinstance(child.tag, str)] != shape:
        raise SignatureInvalid(_("the Signature must hold SignedInfo, SignatureValue and KeyInfo, and nothing else"))
    signed_info = signature[0] if isinstance(signature[0].tag, str) else signature.find(shape[0])
    assert signed_info is not None  # noqa: S101 - the shape was checked just above
    tags = _tags(signed_info)
    if tags[:2] != ["CanonicalizationMethod", "SignatureMethod"] or set(tags[2:]) != {"Reference"}:
        raise SignatureInvalid(_("the SignedInfo must hold CanonicalizationMethod, SignatureMethod and References"))
    for reference in signed_info.findall(f"{ds}Reference"):
        if _tags(reference) != ["Transforms", "DigestMethod", "DigestValue"]:
            raise SignatureInvalid(_("each Reference must hold Transforms, DigestMethod and DigestValue"))
    for algorithm in (*signed_info.iter(f"{ds}CanonicalizationMethod"), *signed_info.iter(f"{ds}Transform")):
        prefix_list(algorithm)  # refuses anything else refining it
    return signed_info


def _check_signed_info(signature: etree._Element, expected_ids: set[str]) -> None:
    """Exclusive c14n, and exactly the three references of the profile, each with one exc-c14n transform."""
    signed_info = _check_signature_shape(signature)
    method = signed_info.find(f"{{{DS_NS}}}CanonicalizationMethod")
    if method is None or method.get("Algorithm") != EXCLUSIVE_C14N.value:
        raise SignatureInvalid(_("the signature must use exclusive canonicalization"))
    uris: list[str] = []
    for reference in signed_info.findall(f"{{{DS_NS}}}Reference"):
        uri = reference.get("URI") or ""
        transforms = reference.findall(f"{{{DS_NS}}}Transforms/{{{DS_NS}}}Transform")
        for transform in transforms:
            if transform.get("Algorithm") != EXCLUSIVE_C14N.value:
                raise SignatureInvalid(
                    _("transform {algorithm} is not allowed", algorithm=str(transform.get("Algorithm")))
                )
        if len(transforms) != 1:
            raise SignatureInvalid(_("reference {uri} must have exactly one exclusive c14n transform", uri=uri))
        uris.append(uri)
    wanted = {f"#{value}" for value in expected_ids}
    if len(uris) != len(set(uris)) or set(uris) != wanted:
        raise SignatureInvalid(
            _("the signature must reference the Timestamp, the ExchangeHeader and the Body by wsu:Id, each "
              "once; it references {found}", found=", ".join(uris) or "nothing")
        )  # fmt: skip


def _token_certificate(token: etree._Element, signature: etree._Element, token_id: str) -> x509.Certificate:
    if token.get("ValueType") != X509V3 or token.get("EncodingType") != BASE64_BINARY:
        raise SignatureInvalid(_("the BinarySecurityToken must be an X.509 v3 certificate in Base64Binary"))
    key_info = signature.findall(f"{{{DS_NS}}}KeyInfo")
    children = [child for child in key_info[0] if isinstance(child.tag, str)] if len(key_info) == 1 else []
    references = children[0].findall(f"{{{WSSE_NS}}}Reference") if len(children) == 1 else []
    if (
        len(children) != 1
        or children[0].tag != f"{{{WSSE_NS}}}SecurityTokenReference"
        or len(children[0]) != 1
        or len(references) != 1
        or references[0].get("URI") != f"#{token_id}"
        or references[0].get("ValueType") != X509V3
    ):
        raise SignatureInvalid(
            _("the signature's KeyInfo must hold one SecurityTokenReference whose Reference points at the "
              "BinarySecurityToken (URI #{token}, ValueType X509v3)", token=token_id)
        )  # fmt: skip
    try:
        cert = x509.load_der_x509_certificate(base64_value(token.text))
    except (ValueError, SignatureInvalid) as exc:
        raise SignatureInvalid(_("the signature carries a damaged certificate")) from exc
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if is_ca:
        raise SignatureInvalid(_("the BinarySecurityToken must be the signer's certificate, not a CA's"))
    return cert


def _timestamp_times(timestamp: etree._Element) -> tuple[datetime, datetime]:
    created = timestamp.findall(f"{{{WSU_NS}}}Created")
    expires = timestamp.findall(f"{{{WSU_NS}}}Expires")
    if len(created) != 1 or len(expires) != 1 or len(timestamp) != 2:
        raise SignatureInvalid(_("the Timestamp must hold one Created and one Expires"))
    moments = []
    for node in (created[0], expires[0]):
        text = (node.text or "").strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None or moment.utcoffset() != timedelta(0):
            raise SignatureInvalid(_("the Timestamp's {name} {value} is not a UTC date-time",
                                     name=etree.QName(node).localname, value=text[:40]))  # fmt: skip
        moments.append(moment)
    if moments[1] <= moments[0]:
        raise SignatureInvalid(_("the Timestamp expires before it was created"))
    return moments[0], moments[1]


def _signed_part(parts: Sequence[SignedPart], tag: str, expected_id: str) -> SignedPart:
    found = [part for part in parts if part.element.tag == tag]
    if len(found) != 1 or found[0].element.get(WSU_ID) != expected_id:
        raise SignatureInvalid(_("the {name} element is not covered by the signature", name=etree.QName(tag).localname))
    return found[0]
