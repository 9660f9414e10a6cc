"""Errors of the PKI and signature layer, a branch of the one tree in :mod:`huiju.errors`.

::

    HuijuError
    └── CertificateError                  the PKI or a signature check
        ├── CertificateStoreError         the key and certificate folder: CA exists, unreadable key
        │   │                             (wrong passphrase), damaged index
        │   ├── CertificateRefused        what a person gave the store, refused: not a certificate, not
        │   │                             a CA, expired, trusted already, a list's days out of range
        │   └── UnknownCertificate        no certificate for that serial, fingerprint, member or role
        │                                 (also a NotFoundError)
        ├── SigningError                  an envelope cannot be signed (no Body, no ExchangeHeader)
        ├── XmlRefused                    input refused before any signature check: not XML, a DOCTYPE,
        │   │                             entities, not a SOAP envelope
        │   ├── SoapVersionMismatch       an Envelope of another SOAP version (1.2): answered with a
        │   │                             SOAP 1.1 VersionMismatch fault (SOAP 1.1 §4.4.1)
        │   └── MessageTooLarge           over the byte cap
        ├── SignatureInvalid              unsigned, a digest or signature mismatch, a required part not
        │                                 signed, a signature-wrapping layout, a forbidden algorithm
        ├── UntrustedCertificate          not issued by a trusted CA (or a chain that does not verify)
        │   └── CertificateRoleError      a trusted certificate used outside its role (TLS cert signing)
        ├── RevokedCertificate            listed in the CA's revocation list (crl.pem)
        ├── StaleRevocationList           the CA's revocation list is past its next update: refresh it
        └── ExpiredCertificate            outside its validity period at the time of the check

Each names the certificate's subject and serial where there is one, so an integrator reading a
SOAP Fault or the message log knows which certificate to look at.
"""

from __future__ import annotations

from huiju.errors import HuijuError, NotFoundError


class CertificateError(HuijuError):
    code = "certificate"


class CertificateStoreError(CertificateError):
    code = "certificate-store"


class CertificateRefused(CertificateStoreError):
    """A certificate, a revocation list or a choice given to the store, refused as it was given (the
    store itself is fine): the caller's to correct."""

    code = "certificate-refused"


class UnknownCertificate(CertificateStoreError, NotFoundError):
    """No certificate answers to the serial, fingerprint, member or role asked for."""

    code = "unknown-certificate"


class SigningError(CertificateError):
    code = "signing-failed"


class XmlRefused(CertificateError):
    code = "xml-refused"


class SoapVersionMismatch(XmlRefused):
    code = "version-mismatch"


class MessageTooLarge(XmlRefused):
    code = "message-too-large"


class SignatureInvalid(CertificateError):
    code = "signature-invalid"


class UntrustedCertificate(CertificateError):
    code = "certificate-untrusted"


class CertificateRoleError(UntrustedCertificate):
    code = "certificate-wrong-role"


class RevokedCertificate(CertificateError):
    code = "certificate-revoked"


class StaleRevocationList(CertificateError):
    code = "crl-stale"


class ExpiredCertificate(CertificateError):
    code = "certificate-expired"
