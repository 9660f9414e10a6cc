"""XML-DSig over SOAP envelopes: round trips, and each refusal with its own error."""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConstructionMethod,
    SignatureMethod,
    SignatureReference,
    XMLSigner,
)

from certs.errors import (
    CertificateRoleError,
    ExpiredCertificate,
    RevokedCertificate,
    SignatureInvalid,
    SigningError,
    SoapVersionMismatch,
    UntrustedCertificate,
)
from certs.store import (
    KeyType,
    SigningIdentity,
    active_certificate,
    init_dev_pki,
    issue_certificate,
    load_private_key,
    load_signing_identity,
    revoke,
    rotate_signing,
)
from certs.trust import TrustStore
from certs.xmlsig import (
    BASE64_BINARY,
    DS_NS,
    EXCHANGE_NS,
    SOAP11_NS,
    SOAP12_NS,
    WSSE_NS,
    WSU_ID,
    WSU_NS,
    X509V3,
    SignxmlSuite,
    request_hash,
    sign_envelope,
    verify_envelope,
    with_default_namespace,
)
from tests.certs.conftest import EnvelopeFactory
from tests.certs.envelopes import build_envelope

SOAP = f"{{{SOAP11_NS}}}"
HX = f"{{{EXCHANGE_NS}}}"
WSSE = f"{{{WSSE_NS}}}"
WSU = f"{{{WSU_NS}}}"
DS = f"{{{DS_NS}}}"


def _signed(folder: Path, envelope: etree._Element, member: str = "huiju") -> bytes:
    return etree.tostring(sign_envelope(envelope, load_signing_identity(folder, member)))


def test_round_trip(any_pki: tuple[Path, KeyType], envelope: EnvelopeFactory) -> None:
    folder, key_type = any_pki
    data = _signed(folder, envelope())
    method = "ecdsa-sha256" if key_type == "ec" else "rsa-sha256"
    assert f"xmldsig-more#{method}".encode() in data
    assert b"http://www.w3.org/2001/10/xml-exc-c14n#" in data
    assert b"http://www.w3.org/2001/04/xmlenc#sha256" in data

    verified = verify_envelope(data, TrustStore.load(folder))
    assert verified.expires - verified.created == timedelta(seconds=300)
    assert abs((datetime.now(UTC) - verified.created).total_seconds()) < 60
    assert verified.body.tag == f"{SOAP}Body"
    assert verified.body.findtext(".//{urn:huiju:citizen:1}name") == "张三"
    assert verified.header.tag == f"{HX}ExchangeHeader"
    assert verified.header.findtext(f"{HX}id") == "msg-0001"
    assert verified.signer_subject == "CN=huiju signing,OU=huiju,O=Huiju"
    assert verified.signer_serial == active_certificate(folder, "huiju", "signing").serial
    assert verified.signer_fingerprint == active_certificate(folder, "huiju", "signing").fingerprint


def test_the_signature_has_the_ws_security_shapes(pki: Path, envelope: EnvelopeFactory) -> None:
    """OASIS WS-Security 1.1, X.509 token profile: Security first in the Header, holding a Timestamp, the
    certificate as a BinarySecurityToken and a Signature over Timestamp, ExchangeHeader and Body by wsu:Id."""
    original = envelope()
    before = etree.tostring(original)
    identity = load_signing_identity(pki, "huiju")
    signed = sign_envelope(original, identity)
    assert etree.tostring(original) == before  # the argument is not changed
    header = signed.find(f"{SOAP}Header")
    security = header[0]
    assert security.tag == f"{WSSE}Security"
    assert security.get(f"{SOAP}mustUnderstand") == "1"
    assert [child.tag for child in security] == [f"{WSU}Timestamp", f"{WSSE}BinarySecurityToken", f"{DS}Signature"]
    timestamp, token, signature = security
    assert token.get("ValueType") == X509V3 and token.get("EncodingType") == BASE64_BINARY
    assert x509.load_der_x509_certificate(base64.b64decode(token.text)) == identity.certificate
    body, exchange = signed.find(f"{SOAP}Body"), header.find(f"{HX}ExchangeHeader")
    uris = [r.get("URI") for r in signature.iter(f"{DS}Reference")]
    assert uris == [f"#{timestamp.get(WSU_ID)}", f"#{exchange.get(WSU_ID)}", f"#{body.get(WSU_ID)}"]
    for reference in signature.iter(f"{DS}Reference"):
        transforms = [t.get("Algorithm") for t in reference.iter(f"{DS}Transform")]
        assert transforms == ["http://www.w3.org/2001/10/xml-exc-c14n#"]
    (token_reference,) = signature.findall(f"{DS}KeyInfo/{WSSE}SecurityTokenReference/{WSSE}Reference")
    assert token_reference.get("URI") == f"#{token.get(WSU_ID)}"
    assert token_reference.get("ValueType") == X509V3
    assert signature.find(f".//{DS}X509Data") is None
    created, expires = timestamp.findtext(f"{WSU}Created"), timestamp.findtext(f"{WSU}Expires")
    assert created.endswith("Z") and len(created) == len("2024-05-01T08:00:00.000Z")
    assert expires > created


def test_soap_12_is_a_version_mismatch(pki: Path, envelope: EnvelopeFactory) -> None:
    data = etree.tostring(sign_envelope(envelope(), load_signing_identity(pki, "huiju")))
    soap12 = data.replace(SOAP11_NS.encode(), SOAP12_NS.encode())
    with pytest.raises(SoapVersionMismatch, match="SOAP 1.2"):
        verify_envelope(soap12, TrustStore.load(pki))
    with pytest.raises(SoapVersionMismatch):
        request_hash(soap12)


def test_signing_needs_an_exchange_header(pki: Path, envelope: EnvelopeFactory) -> None:
    bare = envelope()
    header = bare.find(f"{SOAP}Header")
    header.remove(header.find(f"{HX}ExchangeHeader"))
    with pytest.raises(SigningError, match="exactly one ExchangeHeader"):
        sign_envelope(bare, load_signing_identity(pki, "huiju"))


def test_unsigned_is_refused(pki: Path, envelope: EnvelopeFactory) -> None:
    with pytest.raises(SignatureInvalid, match="not signed"):
        verify_envelope(etree.tostring(envelope()), TrustStore.load(pki))


def test_signed_by_an_untrusted_ca_is_refused(pki: Path, tmp_path: Path, envelope: EnvelopeFactory) -> None:
    rogue = tmp_path / "rogue"
    init_dev_pki(rogue, members=("huiju",))  # same names as the real CA and member, other keys
    with pytest.raises(UntrustedCertificate, match="not issued by a trusted CA"):
        verify_envelope(_signed(rogue, envelope()), TrustStore.load(pki))


def test_revoked_signing_certificate_is_refused(pki: Path, envelope: EnvelopeFactory) -> None:
    data = _signed(pki, envelope())
    revoke(pki, active_certificate(pki, "huiju", "signing").serial, "keyCompromise")
    with pytest.raises(RevokedCertificate, match="revoked"):
        verify_envelope(data, TrustStore.load(pki))


def test_expired_certificate_is_refused(pki: Path, envelope: EnvelopeFactory) -> None:
    issue_certificate(pki, "huiju", "signing", not_before=datetime.now(UTC) - timedelta(days=20), days=10)
    with pytest.raises(ExpiredCertificate, match="expired on"):
        verify_envelope(_signed(pki, envelope()), TrustStore.load(pki))


def test_tls_certificate_cannot_sign(pki: Path, envelope: EnvelopeFactory) -> None:
    ca_pem = (pki / "ca.cert.pem").read_text()
    for role in ("tls-client", "tls-server"):
        info = active_certificate(pki, "huiju", role)
        cert_pem = (pki / info.cert_file).read_text()
        identity = SigningIdentity(
            member="huiju",
            info=info,
            key=load_private_key(pki, info),
            certificate=x509.load_pem_x509_certificate(cert_pem.encode()),
            chain_pem=(cert_pem, ca_pem),
        )
        data = etree.tostring(sign_envelope(envelope(), identity))
        with pytest.raises(CertificateRoleError, match=f"CN=.*serial {info.serial_hex}.* is not a signing"):
            verify_envelope(data, TrustStore.load(pki))


def test_body_altered_after_signing_is_refused(pki: Path, envelope: EnvelopeFactory) -> None:
    data = _signed(pki, envelope())
    altered = data.replace(b"430104199001011234", b"430104199001019999")
    assert altered != data
    with pytest.raises(SignatureInvalid, match="the digest of reference 3 "):
        verify_envelope(altered, TrustStore.load(pki))


def test_header_altered_after_signing_is_refused(pki: Path, envelope: EnvelopeFactory) -> None:
    data = _signed(pki, envelope())
    altered = data.replace(b"officer-7", b"officer-8")
    assert altered != data
    with pytest.raises(SignatureInvalid, match="the digest of reference 2 "):
        verify_envelope(altered, TrustStore.load(pki))


def test_swapped_certificate_is_refused(pki: Path, envelope: EnvelopeFactory) -> None:
    """The sandbox's (trusted) certificate put in place of the signer's token: the key does not match."""
    signed = etree.fromstring(_signed(pki, envelope()))
    sandbox = load_signing_identity(pki, "sandbox").certificate
    token = signed.find(f".//{WSSE}BinarySecurityToken")
    token.text = base64.b64encode(sandbox.public_bytes(serialization.Encoding.DER)).decode()
    with pytest.raises(SignatureInvalid, match="does not verify"):
        verify_envelope(etree.tostring(signed), TrustStore.load(pki))


def test_signed_with_another_key_than_the_tokens_is_refused(pki: Path, envelope: EnvelopeFactory) -> None:
    """A partner signing with the wrong key: the token names a trusted certificate, the key is another."""
    genuine = load_signing_identity(pki, "huiju")
    wrong = dataclasses.replace(genuine, key=ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(SignatureInvalid, match="does not verify"):
        verify_envelope(etree.tostring(sign_envelope(envelope(), wrong)), TrustStore.load(pki))


def _wrapped(data: bytes, forged_id: str | None, id_attribute: str = WSU_ID) -> bytes:
    """The signed Body moved into a wrapper in the Header, a forged Body in its place. ``forged_id``
    "same" gives the forged Body the signed Body's Id (in ``id_attribute``)."""
    root = etree.fromstring(data)
    header, body = root.find(f"{SOAP}Header"), root.find(f"{SOAP}Body")
    wrapper = etree.SubElement(header, "{urn:attacker}Wrapper")
    root.remove(body)
    wrapper.append(body)
    forged = etree.SubElement(root, f"{SOAP}Body")
    if forged_id is not None:
        forged.set(id_attribute, body.get(WSU_ID) if forged_id == "same" else forged_id)
    etree.SubElement(forged, "{urn:huiju:citizen:1}VerifyIdentity").text = "FORGED"
    return etree.tostring(root)


@pytest.mark.parametrize(
    ("forged_id", "id_attribute"),
    [(None, WSU_ID), ("same", WSU_ID), ("same", "Id"), ("same", "ID"), ("other", WSU_ID)],
    ids=["no-id", "same-id", "same-value-in-Id", "same-value-in-ID", "other-id"],
)
def test_signature_wrapping_is_refused(
    pki: Path, envelope: EnvelopeFactory, forged_id: str | None, id_attribute: str
) -> None:
    attack = _wrapped(_signed(pki, envelope()), forged_id, id_attribute)
    with pytest.raises(SignatureInvalid):
        verify_envelope(attack, TrustStore.load(pki))


def test_suite_returns_only_the_signed_body_even_when_wrapped(pki: Path, envelope: EnvelopeFactory) -> None:
    """Below the layout check, signxml's own result never contains the forged Body either."""
    attack = etree.fromstring(_wrapped(_signed(pki, envelope()), None))
    signer = load_signing_identity(pki, "huiju").certificate
    parts = SignxmlSuite().verify(attack, signer, at=None)
    returned = b"".join(etree.tostring(part.element) for part in parts)
    assert b"FORGED" not in returned
    assert b"430104199001011234" in returned


def test_rotated_signer_old_and_new_messages_verify(pki: Path, envelope: EnvelopeFactory) -> None:
    old_identity = load_signing_identity(pki, "huiju")
    old_message = etree.tostring(sign_envelope(envelope(message_id="before"), old_identity))
    rotate_signing(pki, "huiju")
    new_identity = load_signing_identity(pki, "huiju")
    new_message = etree.tostring(sign_envelope(envelope(message_id="after"), new_identity))
    trust = TrustStore.load(pki)
    assert verify_envelope(old_message, trust).signer_serial == old_identity.info.serial
    assert verify_envelope(new_message, trust).signer_serial == new_identity.info.serial
    assert old_identity.info.serial != new_identity.info.serial


def test_request_hash_binds_the_exact_body(pki: Path, envelope: EnvelopeFactory) -> None:
    data = _signed(pki, envelope())
    assert request_hash(data) == request_hash(data)
    assert len(request_hash(data)) == 64
    assert request_hash(data) == verify_envelope(data, TrustStore.load(pki)).request_hash
    operation = etree.fromstring(data).find(f"{SOAP}Body")[0]
    assert request_hash(data) == hashlib.sha256(etree.tostring(operation, method="c14n", exclusive=True)).hexdigest()
    # the same question signed again (a retry: new wsu:Id on the Body, new Timestamp) has the same hash
    assert request_hash(_signed(pki, envelope())) == request_hash(data)
    other = _signed(pki, envelope(body_text="430104199001019999"))
    assert request_hash(other) != request_hash(data)
    unsigned = etree.tostring(build_envelope())
    changed = copy.deepcopy(etree.fromstring(unsigned))
    changed.find(".//{urn:huiju:citizen:1}name").text = "李四"
    assert request_hash(unsigned) != request_hash(etree.tostring(changed))


class _TwoReferencesSuite(SignxmlSuite):
    """A signer that leaves one of the three parts (``left_out``: 0 Timestamp, 1 header, 2 Body) unsigned."""

    def __init__(self, left_out: int) -> None:
        self.left_out = left_out

    def sign(
        self,
        document: etree._Element,
        identity: SigningIdentity,
        reference_ids: Sequence[str],
        key_info: etree._Element,
    ) -> etree._Element:
        kept = [value for index, value in enumerate(reference_ids) if index != self.left_out]
        return super().sign(document, identity, kept, key_info)


class _CustomSuite(SignxmlSuite):
    """A signer with other algorithms or an InclusiveNamespaces prefix list, as other stacks may sign.

    Like WSS4J it canonicalizes SignedInfo in place (in the Security header), where the listed
    prefixes are in scope; signxml's detached signer does it before the Signature has a place.
    """

    def __init__(self, c14n: CanonicalizationMethod, *, prefixes: list[str] | None = None) -> None:
        self.c14n, self.prefixes = c14n, prefixes

    def sign(
        self,
        document: etree._Element,
        identity: SigningIdentity,
        reference_ids: Sequence[str],
        key_info: etree._Element,
    ) -> etree._Element:
        signer = XMLSigner(
            method=SignatureConstructionMethod.detached,
            signature_algorithm=SignatureMethod.ECDSA_SHA256,
            digest_algorithm=DigestAlgorithm.SHA256,
            c14n_algorithm=self.c14n,
        )
        references = [SignatureReference(URI=f"#{i}", inclusive_ns_prefixes=self.prefixes) for i in reference_ids]
        signature = signer.sign(
            document, key=identity.key, key_info=key_info, reference_uri=references,
            inclusive_ns_prefixes=self.prefixes,
        )  # fmt: skip
        if self.prefixes:
            document.find(f"{SOAP}Header/{WSSE}Security").append(signature)
            signed_info = etree.tostring(
                signature.find(f"{DS}SignedInfo"), method="c14n", exclusive=True, inclusive_ns_prefixes=self.prefixes
            )
            r, s = decode_dss_signature(identity.key.sign(signed_info, ec.ECDSA(hashes.SHA256())))
            signature.find(f"{DS}SignatureValue").text = base64.b64encode(
                r.to_bytes(32, "big") + s.to_bytes(32, "big")
            ).decode()
        return signature


@pytest.mark.parametrize("left_out", [0, 1, 2], ids=["timestamp", "exchange-header", "body"])
def test_a_part_left_unsigned_is_refused(pki: Path, envelope: EnvelopeFactory, left_out: int) -> None:
    signed = sign_envelope(envelope(), load_signing_identity(pki, "huiju"), suite=_TwoReferencesSuite(left_out))
    with pytest.raises(SignatureInvalid, match="must reference the Timestamp, the ExchangeHeader and the Body"):
        verify_envelope(etree.tostring(signed), TrustStore.load(pki))


def test_inclusive_canonicalization_is_refused(pki: Path, envelope: EnvelopeFactory) -> None:
    suite = _CustomSuite(CanonicalizationMethod.CANONICAL_XML_1_1)
    signed = sign_envelope(envelope(), load_signing_identity(pki, "huiju"), suite=suite)
    with pytest.raises(SignatureInvalid, match="exclusive canonicalization"):
        verify_envelope(etree.tostring(signed), TrustStore.load(pki))


def test_inclusive_namespace_prefixes_are_accepted(pki: Path, envelope: EnvelopeFactory) -> None:
    """WSS4J adds an InclusiveNamespaces PrefixList to exclusive c14n by default: still the profile."""
    suite = _CustomSuite(CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0, prefixes=["soap", "wsu"])
    signed = etree.tostring(sign_envelope(envelope(), load_signing_identity(pki, "huiju"), suite=suite))
    assert b"InclusiveNamespaces" in signed
    verified = verify_envelope(signed, TrustStore.load(pki))
    assert verified.request_hash == request_hash(signed)


# --- layouts looser than the profile are refused ---------------------------------------------------


def _edit(pki: Path, envelope: EnvelopeFactory, change: Callable[[etree._Element], None]) -> bytes:
    root = etree.fromstring(_signed(pki, envelope()))
    change(root)
    return etree.tostring(root)


def _security(root: etree._Element) -> etree._Element:
    return root.find(f"{SOAP}Header/{WSSE}Security")


def _x509_data_key_info(root: etree._Element) -> None:
    key_info = _security(root).find(f"{DS}Signature/{DS}KeyInfo")
    key_info.clear()
    data = etree.SubElement(key_info, f"{DS}X509Data")
    etree.SubElement(data, f"{DS}X509Certificate").text = _security(root).find(f"{WSSE}BinarySecurityToken").text


def _token_reference_elsewhere(root: etree._Element) -> None:
    reference = _security(root).find(f".//{WSSE}SecurityTokenReference/{WSSE}Reference")
    reference.set("URI", "#nowhere")


def _no_encoding_type(root: etree._Element) -> None:
    del _security(root).find(f"{WSSE}BinarySecurityToken").attrib["EncodingType"]


def _actor(root: etree._Element) -> None:
    _security(root).set(f"{SOAP}actor", "urn:some-intermediary")


def _extra_child(root: etree._Element) -> None:
    etree.SubElement(_security(root), f"{WSSE}UsernameToken")


def _second_security(root: etree._Element) -> None:
    root.find(f"{SOAP}Header").append(etree.Element(f"{WSSE}Security"))


def _token_after_signature(root: etree._Element) -> None:
    security = _security(root)
    security.append(security.find(f"{WSSE}BinarySecurityToken"))


def _no_wsu_id_on_body(root: etree._Element) -> None:
    body = root.find(f"{SOAP}Body")
    body.set("Id", body.attrib.pop(WSU_ID))


LOOSER: dict[str, tuple[Callable[[etree._Element], None], str]] = {
    "x509data-key-info": (_x509_data_key_info, "KeyInfo must hold one SecurityTokenReference"),
    "token-reference-elsewhere": (_token_reference_elsewhere, "KeyInfo must hold one SecurityTokenReference"),
    "no-encoding-type": (_no_encoding_type, "X.509 v3 certificate in Base64Binary"),
    "security-for-an-actor": (_actor, "must not name an actor"),
    "extra-child": (_extra_child, "and nothing else; found Timestamp, BinarySecurityToken, Signature, UsernameToken"),
    "second-security-header": (_second_security, "exactly one wsse:Security header"),
    "token-after-signature": (_token_after_signature, "one BinarySecurityToken and then one Signature"),
    "body-id-not-wsu": (_no_wsu_id_on_body, "Body element carries no wsu:Id"),
}


@pytest.mark.parametrize("kind", list(LOOSER))
def test_a_looser_layout_is_refused(pki: Path, envelope: EnvelopeFactory, kind: str) -> None:
    change, reason = LOOSER[kind]
    with pytest.raises(SignatureInvalid, match=re.escape(reason)):
        verify_envelope(_edit(pki, envelope, change), TrustStore.load(pki))


def test_the_timestamp_may_come_last_as_wss4j_puts_it(pki: Path, envelope: EnvelopeFactory) -> None:
    """The Timestamp is signed by reference, so its place in the header changes nothing signed."""

    def timestamp_last(root: etree._Element) -> None:
        security = _security(root)
        security.append(security.find(f"{WSU}Timestamp"))

    verify_envelope(_edit(pki, envelope, timestamp_last), TrustStore.load(pki))


def test_a_timestamp_outside_utc_is_refused(pki: Path, envelope: EnvelopeFactory) -> None:
    """Created is signed: a local-time Created can only come from the signer, and is refused."""

    class _LocalTimeSuite(SignxmlSuite):
        def sign(
            self, document: etree._Element, identity: SigningIdentity, reference_ids: Sequence[str],
            key_info: etree._Element,
        ) -> etree._Element:  # fmt: skip
            created = document.find(f".//{WSU}Created")
            created.text = created.text.replace("Z", "+08:00")
            return super().sign(document, identity, reference_ids, key_info)

    signed = sign_envelope(envelope(), load_signing_identity(pki, "huiju"), suite=_LocalTimeSuite())
    with pytest.raises(SignatureInvalid, match="not a UTC date-time"):
        verify_envelope(etree.tostring(signed), TrustStore.load(pki))


def test_inclusive_default_namespace_is_rendered_on_the_apex() -> None:
    """Exclusive c14n with "#default" in the PrefixList, as WSS4J signs: libxml2 does not know the token."""
    root = etree.fromstring(b'<a xmlns="urn:d" xmlns:p="urn:p"><p:b q="1"><p:c/></p:b><e/></a>')
    signed_part, unsigned_part = root[0], root[1]
    plain = etree.tostring(signed_part, method="c14n", exclusive=True)
    assert plain == b'<p:b xmlns:p="urn:p" q="1"><p:c></p:c></p:b>'
    assert with_default_namespace(signed_part, plain) == b'<p:b xmlns="urn:d" xmlns:p="urn:p" q="1"><p:c></p:c></p:b>'
    with pytest.raises(SignatureInvalid, match="does not use the default namespace"):
        with_default_namespace(unsigned_part, etree.tostring(unsigned_part, method="c14n", exclusive=True))
    bare = etree.fromstring(b'<p:b xmlns:p="urn:p"/>')
    assert with_default_namespace(bare, b'<p:b xmlns:p="urn:p"></p:b>') == b'<p:b xmlns:p="urn:p"></p:b>'
