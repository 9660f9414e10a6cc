"""The trust store: which CAs Huiju trusts, which certificates they revoked, which roles they may play.

An XML signature proves only which key signed; whether that key's certificate may speak for a
member is decided here. :meth:`TrustStore.check` says why not, naming the certificate: issued by a
trusted CA (the CA's signature over it verifies, not just a matching name), not revoked (RFC 5280
CRL), within its validity, and fit for the role (X-Road's split between signing and TLS
certificates). The CA's signatures over a certificate and over each list are checked once per
loaded store and remembered; the rest at every check.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
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
    StaleRevocationList,
    UntrustedCertificate,
)
from certs.issuing import DOCUMENT_SIGNING
from certs.store import CRL, CRLS, TRUSTED, Role
from huiju.i18n import _

_TLS_USAGES = {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}


#: How many certificates' issuers one loaded store remembers (the exchange's members, and then some).
_ISSUERS_KEPT = 1024


@dataclass(frozen=True)
class _Loaded:
    """The trusted CAs and lists as read, and the signature checks that depend on nothing else.

    A CA's signature over a certificate, or over a revocation list, verifies or not whatever the
    time: it is checked once per loaded store (for a list, when it is loaded; for a certificate,
    the first time it is presented) and remembered with it. A store read again (the files changed)
    starts with nothing remembered. What depends on the moment — validity, the list's next update,
    revocation — is checked at every use.
    """

    ca_file: Path
    ca_certificates: tuple[x509.Certificate, ...]
    crls: tuple[x509.CertificateRevocationList, ...]
    #: Each list with the trusted CA that signed it.
    signed_crls: tuple[tuple[x509.CertificateRevocationList, x509.Certificate], ...] = field(init=False)
    #: Certificates presented so far, with the trusted CA whose signature over them verified.
    issuers: dict[x509.Certificate, x509.Certificate] = field(init=False, default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        pairs = tuple((crl, ca) for crl in self.crls for ca in self.ca_certificates if _crl_signed_by(crl, ca))
        object.__setattr__(self, "signed_crls", pairs)


def _read_crl(path: Path) -> x509.CertificateRevocationList:
    try:
        return x509.load_pem_x509_crl(path.read_bytes())
    except ValueError as exc:
        raise CertificateStoreError(
            _("the revocation list {file} is damaged: {error}", file=str(path), error=str(exc))
        ) from exc


def _load(folder: Path) -> _Loaded:
    ca_file = folder / TRUSTED
    try:
        cas = tuple(x509.load_pem_x509_certificates(ca_file.read_bytes()))
    except FileNotFoundError as exc:
        raise CertificateStoreError(_("no trusted CA file {file}; run huiju certs init", file=str(ca_file))) from exc
    except ValueError as exc:
        raise CertificateStoreError(
            _("the trusted CA file {file} is damaged: {error}", file=str(ca_file), error=str(exc))
        ) from exc
    # Our CA's list, and the lists of partner CAs imported with `huiju certs crl --import`.
    files = [folder / CRL] if (folder / CRL).exists() else []
    files += sorted((folder / CRLS).glob("*.pem")) if (folder / CRLS).is_dir() else []
    crls = tuple(_read_crl(path) for path in files)
    loaded = _Loaded(ca_file, cas, crls)
    signed = {id(crl) for crl, _ca in loaded.signed_crls}
    for path, crl in zip(files, crls, strict=True):
        if id(crl) not in signed:
            raise CertificateStoreError(_("the revocation list {file} is not signed by a trusted CA", file=str(path)))
    return loaded


class TrustStore:
    """Trusted CA certificates (``trusted.pem``) and their revocation lists (``crl.pem`` and the
    partner CAs' lists in ``crls/``), in memory.

    :meth:`load` reads them once; :meth:`watching` gives a store that reads them again whenever one
    of those files changes, so that a long-running process (the sandbox, a worker) picks up a new
    revocation list or a partner's CA without a restart.
    """

    def __init__(
        self, ca_file: Path, ca_certificates: tuple[x509.Certificate, ...],
        crls: tuple[x509.CertificateRevocationList, ...],
    ) -> None:  # fmt: skip
        self._loaded = _Loaded(Path(ca_file), tuple(ca_certificates), tuple(crls))

    def _current(self) -> _Loaded:
        return self._loaded

    @property
    def ca_file(self) -> Path:
        return self._current().ca_file

    @property
    def ca_certificates(self) -> tuple[x509.Certificate, ...]:
        return self._current().ca_certificates

    @property
    def crls(self) -> tuple[x509.CertificateRevocationList, ...]:
        return self._current().crls

    @classmethod
    def load(cls, folder: Path) -> TrustStore:
        """Read the folder's trusted CAs and CRLs; a CRL not signed by a trusted CA is refused."""
        store = cls.__new__(cls)
        store._loaded = _load(Path(folder))
        return store

    @classmethod
    def watching(cls, folder: Path) -> TrustStore:
        """A store that reloads itself when ``trusted.pem``, ``crl.pem`` or ``crls/`` change on disk."""
        return _WatchedTrustStore(Path(folder))

    @property
    def ca_pem_file(self) -> str:
        """The CA bundle as a path, for signxml's ``ca_pem_file``."""
        return str(self.ca_file)

    def issuer_of(self, cert: x509.Certificate) -> x509.Certificate:
        """The trusted CA that issued ``cert`` (its signature over the certificate verifies)."""
        return _issuer_of(self._current(), cert)

    def check(self, cert: x509.Certificate, *, role: Role = "signing", at: datetime | None = None) -> None:
        """Raise unless ``cert`` is trusted, not revoked, valid at ``at`` (default: now) and fit for ``role``."""
        moment = at or datetime.now(UTC)
        loaded = self._current()  # one state of the files for the whole decision, were they read again meanwhile
        ca = _issuer_of(loaded, cert)
        _check_validity(ca, moment)
        _check_not_revoked(loaded, cert, ca, moment)
        _check_validity(cert, moment)
        _check_role(cert, role)


def _issuer_of(loaded: _Loaded, cert: x509.Certificate) -> x509.Certificate:
    known = loaded.issuers.get(cert)
    if known is not None:
        return known
    for ca in loaded.ca_certificates:
        if ca.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        if len(loaded.issuers) >= _ISSUERS_KEPT:
            loaded.issuers.clear()
        loaded.issuers[cert] = ca
        return ca
    raise UntrustedCertificate(
        _(
            "certificate {subject} (serial {serial}) is not issued by a trusted CA (issuer {issuer})",
            **_names(cert),
            issuer=cert.issuer.rfc4514_string(),
        )
    )


def _check_not_revoked(loaded: _Loaded, cert: x509.Certificate, ca: x509.Certificate, moment: datetime) -> None:
    for crl, signer in loaded.signed_crls:
        if signer != ca:
            continue
        # A list past its next update may miss revocations made since (RFC 5280 section 5.1.2.5):
        # refuse rather than trust a certificate on stale information.
        if crl.next_update_utc is not None and crl.next_update_utc < moment:
            raise StaleRevocationList(
                _("the revocation list of {issuer} was due for renewal on {date}; refresh it (huiju certs crl)",
                  issuer=ca.subject.rfc4514_string(), date=crl.next_update_utc.isoformat())
            )  # fmt: skip
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


class _WatchedTrustStore(TrustStore):
    """A :class:`TrustStore` that checks the files' modification times on every use (a few stat
    calls) and reads them again when they changed; a damaged file keeps the last good state out of
    use (every check fails) until it is mended."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._lock = threading.Lock()
        self._stamp: tuple[float, ...] | None = None
        self._loaded = _load(folder)
        self._stamp = self._files_stamp()

    def _files_stamp(self) -> tuple[float, ...]:
        paths = [self._folder / TRUSTED, self._folder / CRL, self._folder / CRLS]
        if (self._folder / CRLS).is_dir():
            paths += sorted((self._folder / CRLS).glob("*.pem"))
        return tuple(p.stat().st_mtime_ns if p.exists() else 0 for p in paths)

    def _current(self) -> _Loaded:
        stamp = self._files_stamp()
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    self._loaded = _load(self._folder)
                    self._stamp = stamp
        return self._loaded


def astuple_loaded(
    loaded: _Loaded,
) -> tuple[Path, tuple[x509.Certificate, ...], tuple[x509.CertificateRevocationList, ...]]:
    return loaded.ca_file, loaded.ca_certificates, loaded.crls
