"""The trust store: which CAs Huiju trusts, which certificates they revoked, which roles they may play.

signxml checks the chain of a signature and the digitalSignature key usage; it does no revocation
checking and does not know X-Road's split between signing and TLS certificates. :meth:`TrustStore.check`
does all of it, with an error that names the certificate: issued by a trusted CA (the CA's signature
over it verifies, not just a matching name), not revoked (RFC 5280 CRL), within its validity, and fit
for the role.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs.errors import (
    CertificateRoleError,
    CertificateStoreError,
    ExpiredCertificate,
    RevokedCertificate,
    UntrustedCertificate,
)
from certs.issuing import DOCUMENT_SIGNING
from certs.store import CRL, TRUSTED, Role
from huiju.i18n import _

_TLS_USAGES = {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}


@dataclass(frozen=True)
class TrustStore:
    """Trusted CA certificates (``trusted.pem``) and their revocation lists (``crl.pem``), in memory."""

    ca_file: Path
    ca_certificates: tuple[x509.Certificate, ...]
    crls: tuple[x509.CertificateRevocationList, ...]

    @classmethod
    def load(cls, folder: Path) -> TrustStore:
        """Read the folder's trusted CAs and CRL; a CRL not signed by a trusted CA is refused."""
        folder = Path(folder)
        ca_file = folder / TRUSTED
        try:
            cas = tuple(x509.load_pem_x509_certificates(ca_file.read_bytes()))
        except FileNotFoundError as exc:
            raise CertificateStoreError(
                _("no trusted CA file {file}; run huiju certs init", file=str(ca_file))
            ) from exc
        except ValueError as exc:
            raise CertificateStoreError(
                _("the trusted CA file {file} is damaged: {error}", file=str(ca_file), error=str(exc))
            ) from exc
        crls: list[x509.CertificateRevocationList] = []
        crl_file = folder / CRL
        if crl_file.exists():
            try:
                crl = x509.load_pem_x509_crl(crl_file.read_bytes())
            except ValueError as exc:
                raise CertificateStoreError(
                    _("the revocation list {file} is damaged: {error}", file=str(crl_file), error=str(exc))
                ) from exc
            if not any(_crl_signed_by(crl, ca) for ca in cas):
                raise CertificateStoreError(
                    _("the revocation list {file} is not signed by a trusted CA", file=str(crl_file))
                )
            crls.append(crl)
        return cls(ca_file=ca_file, ca_certificates=cas, crls=tuple(crls))

    @property
    def ca_pem_file(self) -> str:
        """The CA bundle as a path, for signxml's ``ca_pem_file``."""
        return str(self.ca_file)

    def issuer_of(self, cert: x509.Certificate) -> x509.Certificate:
        """The trusted CA that issued ``cert`` (its signature over the certificate verifies)."""
        for ca in self.ca_certificates:
            if ca.subject != cert.issuer:
                continue
            try:
                cert.verify_directly_issued_by(ca)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return ca
        raise UntrustedCertificate(
            _(
                "certificate {subject} (serial {serial}) is not issued by a trusted CA (issuer {issuer})",
                **_names(cert),
                issuer=cert.issuer.rfc4514_string(),
            )
        )

    def check(self, cert: x509.Certificate, *, role: Role = "signing", at: datetime | None = None) -> None:
        """Raise unless ``cert`` is trusted, not revoked, valid at ``at`` (default: now) and fit for ``role``."""
        moment = at or datetime.now(UTC)
        ca = self.issuer_of(cert)
        _check_validity(ca, moment)
        self._check_not_revoked(cert, ca)
        _check_validity(cert, moment)
        _check_role(cert, role)

    def _check_not_revoked(self, cert: x509.Certificate, ca: x509.Certificate) -> None:
        for crl in self.crls:
            if not _crl_signed_by(crl, ca):
                continue
            entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
            if entry is None:
                continue
            try:
                reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.value
            except x509.ExtensionNotFound:
                reason = "unspecified"
            raise RevokedCertificate(
                _(
                    "certificate {subject} (serial {serial}) was revoked on {date} (reason: {reason})",
                    **_names(cert),
                    date=entry.revocation_date_utc.isoformat(),
                    reason=reason,
                )
            )


def _crl_signed_by(crl: x509.CertificateRevocationList, ca: x509.Certificate) -> bool:
    key = ca.public_key()
    # Only EC and RSA CAs are issued or accepted here.
    if crl.issuer != ca.subject or not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        return False
    return crl.is_signature_valid(key)


def _names(cert: x509.Certificate) -> dict[str, str]:
    return {"subject": cert.subject.rfc4514_string(), "serial": format(cert.serial_number, "x")}


def _check_validity(cert: x509.Certificate, moment: datetime) -> None:
    if moment < cert.not_valid_before_utc:
        raise ExpiredCertificate(
            _(
                "certificate {subject} (serial {serial}) is not valid before {start}",
                **_names(cert),
                start=cert.not_valid_before_utc.isoformat(),
            )
        )
    if moment > cert.not_valid_after_utc:
        raise ExpiredCertificate(
            _(
                "certificate {subject} (serial {serial}) expired on {end}",
                **_names(cert),
                end=cert.not_valid_after_utc.isoformat(),
            )
        )


def _check_role(cert: x509.Certificate, role: Role) -> None:
    try:
        usage: x509.KeyUsage | None = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    try:
        extended = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        extended = set()
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if role == "signing":
        fit = (
            not is_ca
            and usage is not None
            and usage.digital_signature
            and usage.content_commitment
            and not extended & _TLS_USAGES
            and DOCUMENT_SIGNING not in extended  # an office's document key never signs messages
        )
    elif role == "document":
        fit = not is_ca and usage is not None and usage.content_commitment and DOCUMENT_SIGNING in extended
    elif role == "tls-server":
        fit = not is_ca and ExtendedKeyUsageOID.SERVER_AUTH in extended
    elif role == "tls-client":
        fit = not is_ca and ExtendedKeyUsageOID.CLIENT_AUTH in extended
    else:
        fit = is_ca
    if not fit:
        raise CertificateRoleError(
            _(
                "certificate {subject} (serial {serial}) is not a {role} certificate",
                **_names(cert),
                role=role,
            )
        )


def member_of(cert: x509.Certificate) -> str | None:
    """The exchange member a certificate belongs to: its subject's organizational unit (OU).

    A partner is identified by this name, so that a trusted certificate of one member cannot
    speak for another (X-Road binds a member's certificates to its identifier the same way).
    """
    names = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    return str(names[0].value) if names else None
