"""Building X.509 objects for the development PKI: keys, the CA, member certificates, the CRL.

Pure functions over ``cryptography`` objects; :mod:`certs.store` decides where they are written.
Profiles follow RFC 5280: the CA has basicConstraints CA (path length 0) and keyCertSign + cRLSign;
member certificates are end entities with subject and authority key identifiers and the key usages
of their role (see :mod:`certs.store`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs.errors import CertificateRefused
from huiju.i18n import _

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
KeyType = Literal["ec", "rsa"]
Role = Literal["ca", "signing", "tls-server", "tls-client", "document"]
#: id-kp-documentSigning (RFC 9336): the key signs documents (文书), not messages or connections.
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")

ORGANIZATION = "Huiju"
CA_NAME = "Huiju Development CA"


def ca_certificate(key: PrivateKey, *, days: int) -> x509.Certificate:
    """A self-signed development CA certificate, valid from five minutes ago (clock skew) for ``days``."""
    now = datetime.now(UTC)
    name = x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION), x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )


def member_certificate(
    ca_key: PrivateKey,
    ca_cert: x509.Certificate,
    key: PrivateKey,
    member: str,
    role: Role,
    *,
    start: datetime,
    days: int,
    common_name: str | None = None,
) -> x509.Certificate:
    """An end-entity certificate for ``member`` in ``role``, issued by the CA; ``common_name`` names
    the holder as people read it (an office's name on its document-signing certificate)."""
    key_type: KeyType = "ec" if isinstance(key, ec.EllipticCurvePrivateKey) else "rsa"
    builder = (
        x509.CertificateBuilder()
        .subject_name(_subject(member, role, common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    for extension, critical in _role_extensions(role, key_type):
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(ca_key, hashes.SHA256())


def revocation_list(
    ca_key: PrivateKey,
    ca_cert: x509.Certificate,
    revoked: Iterable[tuple[int, datetime, str | None]],
    *,
    days: int,
) -> x509.CertificateRevocationList:
    """The CA's CRL listing ``(serial, revocation date, reason)``; the next update is ``days`` away."""
    now = datetime.now(UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now)
        .next_update(now + timedelta(days=days))
        .add_extension(x509.CRLNumber(int(now.timestamp() * 1000)), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    for serial, date, reason in revoked:
        item = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(date)
        flag = _reason_flag(reason)
        if flag is not None:
            item = item.add_extension(x509.CRLReason(flag), critical=False)
        builder = builder.add_revoked_certificate(item.build())
    return builder.sign(ca_key, hashes.SHA256())


def new_key(key_type: str) -> PrivateKey:
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise CertificateRefused(_("unknown key type {key_type}: use ec or rsa", key_type=key_type))


def _key_usage(
    *,
    digital_signature: bool = False,
    content_commitment: bool = False,
    key_encipherment: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=content_commitment,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _role_extensions(role: Role, key_type: KeyType) -> list[tuple[x509.ExtensionType, bool]]:
    if role == "signing":
        return [(_key_usage(digital_signature=True, content_commitment=True), True)]
    if role == "document":
        return [
            (_key_usage(digital_signature=True, content_commitment=True), True),
            (x509.ExtendedKeyUsage([DOCUMENT_SIGNING]), False),
        ]
    usage = _key_usage(digital_signature=True, key_encipherment=key_type == "rsa")
    if role == "tls-server":
        names = x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        )
        return [(usage, True), (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False), (names, False)]
    return [(usage, True), (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)]


def _subject(member: str, role: Role, common_name: str | None = None) -> x509.Name:
    common_name = common_name or ("localhost" if role == "tls-server" else f"{member} {role}")
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, member),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 over the DER certificate, lowercase hex (what the index and the message log show)."""
    return cert.fingerprint(hashes.SHA256()).hex()


def _reason_flag(reason: str | None) -> x509.ReasonFlags | None:
    # RFC 5280 5.3.1: the reason code "unspecified" should be left out rather than written.
    if not reason:
        return None
    try:
        flag = x509.ReasonFlags(reason)
    except ValueError:
        return None
    return None if flag == x509.ReasonFlags.unspecified else flag
