"""XML-DSig over SOAP envelopes: round trips, and each refusal with its own error."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureMethod, XMLSigner

from certs.errors import (
    CertificateRoleError,
    ExpiredCertificate,
    RevokedCertificate,
    SignatureInvalid,
    SigningError,
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
    DS_NS,
    EXCHANGE_NS,
    SOAP11_NS,
    SignxmlSuite,
    request_hash,
    sign_envelope,
    verify_envelope,
)
from tests.certs.conftest import EnvelopeFactory
from tests.certs.envelopes import build_envelope

SOAP = f"{{{SOAP11_NS}}}"
HX = f"{{{EXCHANGE_NS}}}"


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
    assert verified.body.tag == f"{SOAP}Body"
    assert verified.body.findtext(".//{urn:huiju:citizen:1}name") == "张三"
    assert verified.header.tag == f"{HX}ExchangeHeader"
    assert verified.header.findtext(f"{HX}id") == "msg-0001"
    assert verified.signer_subject == "CN=huiju signing,OU=huiju,O=Huiju"
    assert verified.signer_serial == active_certificate(folder, "huiju", "signing").serial
    assert verified.signer_fingerprint == active_certificate(folder, "huiju", "signing").fingerprint


def test_signature_sits_in_the_security_header(pki: Path, envelope: EnvelopeFactory) -> None:
    original = envelope()
    before = etree.tostring(original)
    signed = sign_envelope(original, load_signing_identity(pki, "huiju"))
    assert etree.tostring(original) == before  # the argument is not changed
    signatures = signed.findall(f"{SOAP}Header/{HX}Security/{{{DS_NS}}}Signature")
    assert len(signatures) == 1
    uris = [r.get("URI") for r in signatures[0].iter(f"{{{DS_NS}}}Reference")]
    assert uris == ["#huiju-body", "#huiju-header"]
    assert signed.find(f"{SOAP}Body").get("Id") == "huiju-body"


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
    with pytest.raises(SignatureInvalid, match="Digest mismatch"):
        verify_envelope(altered, TrustStore.load(pki))


def test_header_altered_after_signing_is_refused(pki: Path, envelope: EnvelopeFactory) -> None:
    data = _signed(pki, envelope())
    altered = data.replace(b"officer-7", b"officer-8")
    assert altered != data
    with pytest.raises(SignatureInvalid, match="Digest mismatch"):
        verify_envelope(altered, TrustStore.load(pki))


def test_swapped_certificate_is_refused(pki: Path, envelope: EnvelopeFactory) -> None:
    """The sandbox's (trusted) certificate put in place of the signer's: the key does not match."""
    signed = etree.fromstring(_signed(pki, envelope()))
    sandbox = load_signing_identity(pki, "sandbox").chain_pem[0]
    body = "".join(line for line in sandbox.splitlines() if "CERTIFICATE" not in line)
    signed.find(f".//{{{DS_NS}}}X509Certificate").text = body
    with pytest.raises(SignatureInvalid):
        verify_envelope(etree.tostring(signed), TrustStore.load(pki))


def _wrapped(data: bytes, forged_id: str | None, id_attribute: str = "Id") -> bytes:
    """The signed Body moved into a wrapper in the Header, a forged Body in its place."""
    root = etree.fromstring(data)
    header, body = root.find(f"{SOAP}Header"), root.find(f"{SOAP}Body")
    wrapper = etree.SubElement(header, "{urn:attacker}Wrapper")
    root.remove(body)
    wrapper.append(body)
    forged = etree.SubElement(root, f"{SOAP}Body")
    if forged_id is not None:
        forged.set(id_attribute, forged_id)
    etree.SubElement(forged, "{urn:huiju:citizen:1}VerifyIdentity").text = "FORGED"
    return etree.tostring(root)


@pytest.mark.parametrize(
    ("forged_id", "id_attribute"),
    [(None, "Id"), ("huiju-body", "Id"), ("huiju-body", "ID"), ("other", "Id")],
    ids=["no-id", "same-id", "same-value-other-attribute", "other-id"],
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
    trust = TrustStore.load(pki)
    signer = load_signing_identity(pki, "huiju").certificate
    parts = SignxmlSuite().verify(attack, trust, signer, at=None)
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
    other = _signed(pki, envelope(body_text="430104199001019999"))
    assert request_hash(other) != request_hash(data)
    unsigned = etree.tostring(build_envelope())
    changed = copy.deepcopy(etree.fromstring(unsigned))
    changed.find(".//{urn:huiju:citizen:1}name").text = "李四"
    assert request_hash(unsigned) != request_hash(etree.tostring(changed))


class _BodyOnlySuite(SignxmlSuite):
    """A signer that leaves the exchange header out of the signature."""

    def sign(self, envelope: etree._Element, identity: SigningIdentity, reference_ids: Sequence[str]) -> etree._Element:
        return super().sign(envelope, identity, reference_ids[:1])


class _InclusiveC14nSuite(SignxmlSuite):
    """A signer that uses inclusive canonicalization (C14N 1.1) instead of exclusive."""

    def sign(self, envelope: etree._Element, identity: SigningIdentity, reference_ids: Sequence[str]) -> etree._Element:
        signer = XMLSigner(
            signature_algorithm=SignatureMethod.ECDSA_SHA256,
            digest_algorithm=DigestAlgorithm.SHA256,
            c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_1,
        )
        return signer.sign(
            envelope, key=identity.key, cert=list(identity.chain_pem), reference_uri=[f"#{i}" for i in reference_ids]
        )


def test_header_left_unsigned_is_refused(pki: Path, envelope: EnvelopeFactory) -> None:
    signed = sign_envelope(envelope(), load_signing_identity(pki, "huiju"), suite=_BodyOnlySuite())
    with pytest.raises(SignatureInvalid, match="ExchangeHeader element is not covered"):
        verify_envelope(etree.tostring(signed), TrustStore.load(pki))


def test_inclusive_canonicalization_is_refused(pki: Path, envelope: EnvelopeFactory) -> None:
    signed = sign_envelope(envelope(), load_signing_identity(pki, "huiju"), suite=_InclusiveC14nSuite())
    with pytest.raises(SignatureInvalid, match="exclusive canonicalization"):
        verify_envelope(etree.tostring(signed), TrustStore.load(pki))
