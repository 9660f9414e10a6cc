"""XML-DSig over SOAP envelopes: sign the Body and the exchange header, verify them safely.

A signed envelope (SOAP 1.1 or 1.2) looks like this::

    <soap:Envelope>
      <soap:Header>
        <hx:ExchangeHeader Id="huiju-header">...</hx:ExchangeHeader>   hx = urn:huiju:exchange:1
        <hx:Security>
          <ds:Signature> two References, #huiju-body and #huiju-header, each with the
            enveloped-signature and exclusive-c14n transforms and a SHA-256 digest; SignatureMethod
            ecdsa-sha256 or rsa-sha256 by key type; KeyInfo/X509Data with the signer's chain </ds:Signature>
        </hx:Security>
      </soap:Header>
      <soap:Body Id="huiju-body">...</soap:Body>
    </soap:Envelope>

Verification (:func:`verify_envelope`) parses with DTDs, entities and network access off and a
byte cap, refuses any DOCTYPE, refuses a layout where the signed Ids are not exactly the
envelope's own Body and ExchangeHeader (signature wrapping), checks the signer certificate against
the :class:`~certs.trust.TrustStore` (chain, revocation, validity, signing role), lets signxml verify
the signature and digests against the trusted CA file, and returns ONLY the elements signxml returned
as signed — never elements looked up again in the received document.

The cryptography sits behind :class:`SignatureSuite` so that SM2/SM3 (GB/T 32918, GB/T 32905), which
neither signxml nor ``cryptography`` sign with today, can be added beside :class:`SignxmlSuite`.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
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

from certs.errors import MessageTooLarge, SignatureInvalid, SigningError, UntrustedCertificate, XmlRefused
from certs.store import SigningIdentity, fingerprint
from certs.trust import TrustStore
from huiju.i18n import _

EXCHANGE_NS = "urn:huiju:exchange:1"
SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
EXCLUSIVE_C14N = CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0
ENVELOPED = SignatureConstructionMethod.enveloped
DEFAULT_MAX_BYTES = 2 * 1024 * 1024
DEFAULT_REFERENCE_IDS = ("huiju-body", "huiju-header")

_SOAP_NAMESPACES = (SOAP11_NS, SOAP12_NS)
_ID_ATTRIBUTES = {"Id", "ID", "id"}
_XML_ID = "{http://www.w3.org/XML/1998/namespace}id"
_ALLOWED_TRANSFORMS = {ENVELOPED.value, EXCLUSIVE_C14N.value}


@dataclass(frozen=True)
class SignedPart:
    """One signed reference as the suite verified it: the canonical bytes and their parsed form."""

    element: etree._Element
    data: bytes


@dataclass(frozen=True)
class VerifiedEnvelope:
    """What a verified envelope may be trusted for: only the signed Body and exchange header."""

    body: etree._Element
    header: etree._Element
    signer: x509.Certificate
    request_hash: str

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

    def sign(self, envelope: etree._Element, identity: SigningIdentity, reference_ids: Sequence[str]) -> etree._Element:
        """Fill the ``ds:Signature Id="placeholder"`` element of ``envelope`` with a signature over the
        elements carrying ``reference_ids``; return the signed document."""
        ...

    def verify(
        self, envelope: etree._Element, trust: TrustStore, signer: x509.Certificate, *, at: datetime | None
    ) -> list[SignedPart]:
        """Verify the envelope's one signature, made by ``signer``'s key and chained to ``trust``; return
        the signed references (parsed from the canonical bytes that were signed). Raise a
        :class:`~certs.errors.CertificateError` on any failure."""
        ...


class SignxmlSuite:
    """The default suite: signxml 5, ecdsa-sha256 or rsa-sha256, SHA-256 digests, exclusive c14n."""

    signature_methods = frozenset({SignatureMethod.ECDSA_SHA256, SignatureMethod.RSA_SHA256})
    digest_algorithms = frozenset({DigestAlgorithm.SHA256})

    def sign(self, envelope: etree._Element, identity: SigningIdentity, reference_ids: Sequence[str]) -> etree._Element:
        method = SignatureMethod.ECDSA_SHA256 if identity.key_type == "ec" else SignatureMethod.RSA_SHA256
        signer = XMLSigner(
            method=ENVELOPED,
            signature_algorithm=method,
            digest_algorithm=DigestAlgorithm.SHA256,
            c14n_algorithm=EXCLUSIVE_C14N,
        )
        try:
            return signer.sign(
                envelope,
                key=identity.key,
                cert=list(identity.chain_pem),
                reference_uri=[f"#{i}" for i in reference_ids],
            )
        except SignXMLException as exc:
            raise SigningError(_("cannot sign the envelope: {error}", error=str(exc))) from exc

    def verify(
        self, envelope: etree._Element, trust: TrustStore, signer: x509.Certificate, *, at: datetime | None
    ) -> list[SignedPart]:
        config = SignatureConfiguration(
            location=f"./{{{envelope.tag.split('}')[0][1:]}}}Header/{{{EXCHANGE_NS}}}Security/",
            expect_references=True,
            signature_methods=self.signature_methods,
            digest_algorithms=self.digest_algorithms,
            verification_time=at,
        )
        try:
            outcome = XMLVerifier().verify(
                envelope, ca_pem_file=trust.ca_pem_file, parser=_safe_parser(), expect_config=config
            )
        except InvalidCertificate as exc:
            raise UntrustedCertificate(_("the signing certificate does not verify: {error}", error=str(exc))) from exc
        except (SignXMLException, etree.DocumentInvalid) as exc:
            raise SignatureInvalid(_("the signature does not verify: {error}", error=str(exc))) from exc
        results = outcome if isinstance(outcome, list) else [outcome]
        expected_key = signer.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        parts: list[SignedPart] = []
        for result in results:
            if result.signature_key != expected_key:
                raise SignatureInvalid(_("the signature was not made with the key of the certificate checked"))
            _check_algorithms(result.signature_xml)
            if result.signed_xml is None:
                raise SignatureInvalid(_("a signed reference is not an XML element"))
            parts.append(SignedPart(element=result.signed_xml, data=result.signed_data))
        return parts


# --- public functions ----------------------------------------------------------------------------


def sign_envelope(
    envelope: etree._Element,
    identity: SigningIdentity,
    *,
    reference_ids: tuple[str, str] = DEFAULT_REFERENCE_IDS,
    suite: SignatureSuite | None = None,
) -> etree._Element:
    """Sign a SOAP envelope's Body and ExchangeHeader; return a signed copy (the argument is not changed).

    ``reference_ids`` are the ``Id`` values given to the Body and the header unless they carry one.
    """
    document = copy.deepcopy(envelope)
    soap = _soap_namespace(document, error=SigningError)
    header = _only_child(document, f"{{{soap}}}Header", SigningError)
    body = _only_child(document, f"{{{soap}}}Body", SigningError)
    exchange = _only_child(header, f"{{{EXCHANGE_NS}}}ExchangeHeader", SigningError)
    if header.find(f"{{{EXCHANGE_NS}}}Security") is not None:
        raise SigningError(_("the envelope already carries a Security header"))
    body_id = body.get("Id") or reference_ids[0]
    header_id = exchange.get("Id") or reference_ids[1]
    if body_id == header_id:
        raise SigningError(_("the Body and the exchange header need different Ids"))
    body.set("Id", body_id)
    exchange.set("Id", header_id)
    security = etree.SubElement(header, f"{{{EXCHANGE_NS}}}Security", nsmap={"hx": EXCHANGE_NS})
    etree.SubElement(security, f"{{{DS_NS}}}Signature", Id="placeholder", nsmap={"ds": DS_NS})
    return (suite or SignxmlSuite()).sign(document, identity, [body_id, header_id])


def verify_envelope(
    envelope_bytes: bytes,
    trust: TrustStore,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    suite: SignatureSuite | None = None,
    at: datetime | None = None,
) -> VerifiedEnvelope:
    """Verify a received envelope and return its signed Body and exchange header.

    ``at`` verifies at another moment than now (an archived message). Raises :class:`XmlRefused`,
    :class:`SignatureInvalid` or a certificate error that says why.
    """
    root = parse_untrusted(envelope_bytes, max_bytes=max_bytes)
    soap = _soap_namespace(root, error=XmlRefused)
    header = _only_child(root, f"{{{soap}}}Header", SignatureInvalid)
    body = _only_child(root, f"{{{soap}}}Body", XmlRefused)
    exchange = _only_child(header, f"{{{EXCHANGE_NS}}}ExchangeHeader", SignatureInvalid)
    signatures = list(root.iter(f"{{{DS_NS}}}Signature"))
    security = header.find(f"{{{EXCHANGE_NS}}}Security")
    if not signatures or security is None:
        raise SignatureInvalid(_("the message is not signed"))
    if len(signatures) != 1 or signatures[0].getparent() is not security:
        raise SignatureInvalid(_("the message must carry exactly one signature, in its Security header"))
    body_id, header_id = _signed_id(body), _signed_id(exchange)
    _check_unique_ids(root, (body_id, header_id))
    signer = _signer_certificate(signatures[0])
    trust.check(signer, role="signing", at=at)
    parts = (suite or SignxmlSuite()).verify(root, trust, signer, at=at)
    signed_body = _signed_part(parts, f"{{{soap}}}Body", body_id)
    signed_header = _signed_part(parts, f"{{{EXCHANGE_NS}}}ExchangeHeader", header_id)
    return VerifiedEnvelope(
        body=signed_body.element,
        header=signed_header.element,
        signer=signer,
        request_hash=hashlib.sha256(signed_body.data).hexdigest(),
    )


def request_hash(envelope_bytes: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """SHA-256 (hex) over the exclusive canonical form (exc-c14n) of the envelope's Body.

    Like X-Road's ``requestHash``, a reply carries this digest of the request it answers, which binds
    the answer to that exact request: replayed against another question, it does not match. For a
    signed request it equals :attr:`VerifiedEnvelope.request_hash`, the digest of the bytes signed.
    """
    root = parse_untrusted(envelope_bytes, max_bytes=max_bytes)
    body = _only_child(root, f"{{{_soap_namespace(root, error=XmlRefused)}}}Body", XmlRefused)
    return hashlib.sha256(etree.tostring(body, method="c14n", exclusive=True)).hexdigest()


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
        root = etree.fromstring(bytes(data), parser=_safe_parser())
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


# --- helpers -------------------------------------------------------------------------------------


def _safe_parser() -> etree.XMLParser:
    # A parser per call: lxml parsers must not be shared between threads.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )


def _soap_namespace(root: etree._Element, *, error: type[Exception]) -> str:
    tag = etree.QName(root)
    if tag.localname != "Envelope" or tag.namespace not in _SOAP_NAMESPACES:
        raise error(_("the document is not a SOAP envelope (root element {tag})", tag=str(root.tag)))
    return tag.namespace


def _only_child(parent: etree._Element, tag: str, error: type[Exception]) -> etree._Element:
    found = parent.findall(tag)
    if len(found) != 1:
        name = etree.QName(tag).localname
        raise error(_("the envelope must have exactly one {name} element, found {count}", name=name, count=len(found)))
    return found[0]


def _signed_id(element: etree._Element) -> str:
    value = element.get("Id")
    if not value:
        raise SignatureInvalid(
            _("the {name} element carries no Id, so it cannot be signed", name=etree.QName(element).localname)
        )
    return value


def _check_unique_ids(root: etree._Element, ids: Sequence[str]) -> None:
    """Each signed Id must occur once in the whole document: a copy elsewhere is signature wrapping."""
    counts = dict.fromkeys(ids, 0)
    for element in root.iter(etree.Element):
        for name, value in element.attrib.items():
            if value in counts and (etree.QName(name).localname in _ID_ATTRIBUTES or name == _XML_ID):
                counts[value] += 1
    for value, count in counts.items():
        if count != 1:
            raise SignatureInvalid(
                _("the Id {value} occurs {count} times: a signed element was moved or copied", value=value, count=count)
            )


def _signer_certificate(signature: etree._Element) -> x509.Certificate:
    texts = signature.findall(f"{{{DS_NS}}}KeyInfo/{{{DS_NS}}}X509Data/{{{DS_NS}}}X509Certificate")
    leaves: list[x509.Certificate] = []
    for text in texts:
        pem = "-----BEGIN CERTIFICATE-----\n" + "".join((text.text or "").split()) + "\n-----END CERTIFICATE-----\n"
        try:
            cert = x509.load_pem_x509_certificate(pem.encode())
        except ValueError as exc:
            raise SignatureInvalid(_("the signature carries a damaged certificate")) from exc
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            leaves.append(cert)
    if len(leaves) != 1:
        raise SignatureInvalid(
            _("the signature must carry exactly one signing certificate, found {count}", count=len(leaves))
        )
    return leaves[0]


def _check_algorithms(signature: etree._Element) -> None:
    signed_info = signature.find(f"{{{DS_NS}}}SignedInfo")
    method = signed_info.find(f"{{{DS_NS}}}CanonicalizationMethod") if signed_info is not None else None
    if method is None or method.get("Algorithm") != EXCLUSIVE_C14N.value:
        raise SignatureInvalid(_("the signature must use exclusive canonicalization"))
    for transform in signed_info.iter(f"{{{DS_NS}}}Transform") if signed_info is not None else ():
        if transform.get("Algorithm") not in _ALLOWED_TRANSFORMS:
            raise SignatureInvalid(_("transform {algorithm} is not allowed", algorithm=str(transform.get("Algorithm"))))


def _signed_part(parts: Sequence[SignedPart], tag: str, expected_id: str) -> SignedPart:
    found = [part for part in parts if part.element.tag == tag]
    if len(found) != 1 or found[0].element.get("Id") != expected_id:
        raise SignatureInvalid(_("the {name} element is not covered by the signature", name=etree.QName(tag).localname))
    return found[0]
