"""Key and certificate files for the partner clients of the interop kit, from the development PKI.

A partner stack reads keys in its own formats: Java a PKCS#12 key store, Node.js PEM files. These
are written from a member's active signing and tls-client entries (``huiju certs`` issues them), with
the CA certificate as the one trust anchor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from certs.store import CA_CERT, KeyType, Role, active_certificate, issue_certificate, load_private_key

PASSWORD = "interop-kit"


@dataclass(frozen=True)
class PartnerFiles:
    member: str
    folder: Path

    def path(self, name: str) -> str:
        return str(self.folder / name)

    @property
    def ca(self) -> str:
        return self.path("ca.pem")


def add_partner(pki: Path, member: str, *, key_type: KeyType) -> None:
    """A partner member of the development CA: a signing and a tls-client certificate."""
    issue_certificate(pki, member, "signing", key_type=key_type)
    issue_certificate(pki, member, "tls-client", key_type=key_type)


def export(pki: Path, member: str, folder: Path) -> PartnerFiles:
    """``signing.p12``/``tls.p12`` (password :data:`PASSWORD`), the same as PEM files, and ``ca.pem``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ca.pem").write_bytes((pki / CA_CERT).read_bytes())
    role: Role
    for role, name in (("signing", "signing"), ("tls-client", "tls")):
        info = active_certificate(pki, member, role)
        key = load_private_key(pki, info)
        cert_pem = (pki / info.cert_file).read_bytes()
        cert = x509.load_pem_x509_certificate(cert_pem)
        (folder / f"{name}.cert.pem").write_bytes(cert_pem)
        (folder / f"{name}.key.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        store = pkcs12.serialize_key_and_certificates(
            member.encode(), key, cert, None, serialization.BestAvailableEncryption(PASSWORD.encode())
        )
        (folder / f"{name}.p12").write_bytes(store)
    return PartnerFiles(member, folder)
