"""The keys and trust a delivering process signs and verifies with, loaded once and kept fresh.

A worker loads its signing identity once (a PEM load costs tens of milliseconds) and the trust
store whenever the trusted CA file or the revocation list changes on disk, so that a certificate
revoked with ``huiju certs revoke`` is refused by running workers without a restart.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from adapters.tls import ClientTls
from certs.store import SigningIdentity, load_signing_identity
from certs.trust import TrustStore

PLATFORM_MEMBER = "huiju"


@dataclass(frozen=True)
class ExchangeSecurity:
    signer: SigningIdentity
    trust: TrustStore
    tls: ClientTls | None = None  # the client certificate for HTTPS endpoints (mTLS)
    #: Another member's client certificate, for an adapter set to present it (``client_certificate``).
    tls_of: Callable[[str], ClientTls] | None = None

    def client_tls(self, member: str | None) -> ClientTls | None:
        """The client certificate an adapter presents: the platform's, or the member it names."""
        if not member or member == PLATFORM_MEMBER or self.tls_of is None:
            return self.tls
        return self.tls_of(member)


class SecurityProvider:
    """Gives the current :class:`ExchangeSecurity` for a certificate folder (thread-safe)."""

    def __init__(self, folder: Path, *, member: str = PLATFORM_MEMBER, passphrase: bytes | None = None) -> None:
        self.folder = folder
        self.member = member
        self.passphrase = passphrase
        self._lock = threading.Lock()
        self._signer: SigningIdentity | None = None
        self._signer_stamp: float | None = None
        self._trust: TrustStore | None = None
        self._trust_stamp: tuple[float, ...] | None = None
        self._tls: ClientTls | None = None
        self._tls_stamp: float | None = None
        self._other_tls: dict[str, ClientTls] = {}

    def _stamp(self, *names: str) -> tuple[float, ...]:
        return tuple((self.folder / name).stat().st_mtime if (self.folder / name).exists() else 0.0 for name in names)

    def current(self) -> ExchangeSecurity:
        with self._lock:
            index_stamp = self._stamp("index.json")[0]
            if self._signer is None or self._signer_stamp != index_stamp:  # rotated signing key
                self._signer = load_signing_identity(self.folder, self.member, passphrase=self.passphrase)
                self._signer_stamp = index_stamp
            trust_stamp = self._stamp("trusted.pem", "crl.pem", "crls")
            if self._trust is None or self._trust_stamp != trust_stamp:
                self._trust = TrustStore.load(self.folder)
                self._trust_stamp = trust_stamp
            if self._tls is None or self._tls_stamp != index_stamp:
                self._tls = ClientTls.from_store(self.folder, self.member)
                self._tls_stamp = index_stamp
                self._other_tls = {}
            return ExchangeSecurity(self._signer, self._trust, self._tls, self._client_tls_of)

    def _client_tls_of(self, member: str) -> ClientTls:
        with self._lock:
            found = self._other_tls.get(member)
            if found is None:
                found = self._other_tls[member] = ClientTls.from_store(self.folder, member)
            return found
