"""Mutual TLS between the adapters and the sandbox: which files each side uses, and the server's context.

The certificate store (:mod:`certs.store`) issues each member a ``tls-server`` certificate (SAN
``localhost`` and ``127.0.0.1``) and a ``tls-client`` certificate; ``trusted.pem`` holds the CAs
the installation trusts. :class:`ClientTls` is what an adapter presents and trusts,
:class:`ServerTls` what the sandbox serves and accepts; :func:`server_context` builds the
server's :class:`ssl.SSLContext` (TLS 1.2 or later, client certificates verified against the CA
bundle).

TLS private keys must be unencrypted PEM files (as ``huiju certs init`` writes them without
``HUIJU_CERTS_PASSPHRASE``): neither requests nor the sandbox's server is given a passphrase,
so an encrypted TLS key is refused here with a :class:`~certs.errors.CertificateStoreError`
that says so, rather than left to prompt on a terminal or fail obscurely mid-handshake.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from certs.errors import CertificateStoreError
from certs.store import TRUSTED, Role, active_certificate

__all__ = ["ClientTls", "ServerTls", "server_context"]

_ENCRYPTED_MARKERS = (b"-----BEGIN ENCRYPTED PRIVATE KEY-----", b"Proc-Type: 4,ENCRYPTED")


@dataclass(frozen=True)
class ClientTls:
    """An adapter's side of mTLS: its client certificate and key, and the CA bundle it trusts."""

    cert_file: Path
    key_file: Path
    ca_file: Path
    #: The CA's revocation list: a server certificate listed there fails the handshake.
    crl_file: Path | None = None

    def __post_init__(self) -> None:
        _check_files(self.cert_file, self.key_file, self.ca_file)

    @classmethod
    def from_store(cls, folder: Path, member: str = "huiju") -> ClientTls:
        """The member's active ``tls-client`` certificate and key, trusting the folder's ``trusted.pem``."""
        cert_file, key_file = _active_files(Path(folder), member, "tls-client")
        crl = Path(folder) / "crl.pem"
        return cls(cert_file=cert_file, key_file=key_file, ca_file=Path(folder) / TRUSTED,
                   crl_file=crl if crl.is_file() else None)  # fmt: skip

    @property
    def cert(self) -> tuple[str, str]:
        """The ``(certificate, key)`` pair as requests takes it."""
        return (str(self.cert_file), str(self.key_file))


@dataclass(frozen=True)
class ServerTls:
    """A server's side of mTLS: its certificate and key, and the CA bundle client certificates must chain to."""

    cert_file: Path
    key_file: Path
    ca_file: Path
    require_client_cert: bool = True
    #: The CA's revocation list: a client certificate listed there fails the handshake (a file not
    #: there yet is not an error: it is read once it is written).
    crl_file: Path | None = None

    def __post_init__(self) -> None:
        _check_files(self.cert_file, self.key_file, self.ca_file)

    @classmethod
    def from_store(cls, folder: Path, member: str = "sandbox", *, require_client_cert: bool = True) -> ServerTls:
        """The member's active ``tls-server`` certificate and key, accepting clients of ``trusted.pem``'s CAs."""
        cert_file, key_file = _active_files(Path(folder), member, "tls-server")
        return cls(
            cert_file=cert_file,
            key_file=key_file,
            ca_file=Path(folder) / TRUSTED,
            require_client_cert=require_client_cert,
            crl_file=Path(folder) / "crl.pem",  # read whenever it changes (see ListenerContexts)
        )


def server_context(tls: ServerTls) -> ssl.SSLContext:
    """A server context: TLS 1.2+, our certificate, client certificates verified against ``ca_file``.

    With ``require_client_cert`` (the default) a client without a certificate, or with one that
    does not chain to ``ca_file``, fails the handshake; without it a certificate is still verified
    when one is presented.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION
    # A passphrase callback that refuses: OpenSSL would otherwise prompt on the terminal.
    context.load_cert_chain(str(tls.cert_file), str(tls.key_file), password=_no_passphrase)
    context.load_verify_locations(cafile=str(tls.ca_file))
    if tls.crl_file is not None and tls.crl_file.is_file():
        # Revoked client certificates are refused at the handshake.
        context.load_verify_locations(cafile=str(tls.crl_file))
        context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    context.verify_mode = ssl.CERT_REQUIRED if tls.require_client_cert else ssl.CERT_OPTIONAL
    return context


class ListenerContexts:
    """The server context of a TLS listener, made again when its revocation list changes on disk:
    a CRL refreshed by ``huiju certs crl`` (or a certificate revoked) is in force from the next
    connection, without a restart. The file is looked at (one ``stat``) once per connection."""

    def __init__(self, tls: ServerTls) -> None:
        self.tls = tls
        self._lock = threading.Lock()
        self._stamp = self._crl_stamp()
        self._context = server_context(tls)

    def _crl_stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.tls.crl_file.stat() if self.tls.crl_file is not None else None
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size) if stat is not None else None

    def current(self) -> ssl.SSLContext:
        stamp = self._crl_stamp()
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    self._context, self._stamp = server_context(self.tls), stamp
        return self._context

    def accept(self, listener: socket.socket) -> tuple[ssl.SSLSocket, Any]:
        """Accept a connection on a plain listening socket and wrap it with the current context; the
        handshake is left to the connection's own thread (``do_handshake_on_connect=False``)."""
        connection, address = listener.accept()
        try:
            return self.current().wrap_socket(connection, server_side=True, do_handshake_on_connect=False), address
        except BaseException:
            connection.close()
            raise


def _active_files(folder: Path, member: str, role: Role) -> tuple[Path, Path]:
    info = active_certificate(folder, member, role)
    return folder / info.cert_file, folder / info.key_file


def _check_files(cert_file: Path, key_file: Path, ca_file: Path) -> None:
    for label, path in (("certificate", cert_file), ("private key", key_file), ("CA bundle", ca_file)):
        if not Path(path).is_file():
            raise CertificateStoreError(f"TLS {label} file {path} is missing")
    head = Path(key_file).read_bytes()
    if any(marker in head for marker in _ENCRYPTED_MARKERS):
        raise CertificateStoreError(
            f"TLS private key {key_file} is encrypted with a passphrase; mTLS needs an unencrypted key "
            "(issue TLS certificates without HUIJU_CERTS_PASSPHRASE)"
        )


def _no_passphrase() -> bytes:
    raise CertificateStoreError("the TLS private key is encrypted; mTLS needs an unencrypted key")


def client_context(tls: ClientTls) -> ssl.SSLContext:
    """A client context: TLS 1.2+, our CA only, our client certificate, and revoked servers refused.

    Built anew when the revocation list changes on disk (``huiju certs revoke``), so a running
    worker stops trusting a revoked server certificate without a restart.
    """
    stamp = tls.crl_file.stat().st_mtime if tls.crl_file is not None and tls.crl_file.exists() else 0.0
    return _client_context(tls, stamp, tls.cert is not None)


@lru_cache(maxsize=16)
def _client_context(tls: ClientTls, _crl_stamp: float, _with_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(tls.ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls.cert is not None:  # (tests make a client that presents none)
        context.load_cert_chain(*tls.cert, password=_no_passphrase)
    if tls.crl_file is not None:
        context.load_verify_locations(cafile=str(tls.crl_file))
        context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    return context


class ContextAdapter(HTTPAdapter):
    """A requests adapter whose connections use a given SSL context (requests has no CRL option)."""

    def __init__(self, context: ssl.SSLContext, **kwargs: Any) -> None:
        self.context = context
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self.context
        super().init_poolmanager(*args, **kwargs)


class KeptSessions:
    """HTTP sessions whose connections are kept alive between calls, lent to one caller at a time.

    A call to a system called a moment ago then costs no new TCP connection and no new TLS
    handshake, which with client certificates costs a few milliseconds of CPU on both sides of every
    call. A connection the server has closed is noticed before it is used again (urllib3 looks at
    the socket first). Each session presents one client TLS (``None``: plain HTTP). When the
    revocation list changes on disk, :func:`client_context` gives a new context, and sessions of the
    old one are closed instead of lent: no connection opened before the change is used after it, so
    a revoked certificate is refused at the next call, as when every call made its own connection.
    A session is never used by two threads at once (requests does not promise that it may be), nor
    by a child forked from this process.
    """

    def __init__(self, idle_at_most: int = 8) -> None:
        self.idle_at_most = idle_at_most
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._idle: dict[ClientTls | None, list[requests.Session]] = {}

    @contextmanager
    def lend(self, tls: ClientTls | None) -> Iterator[requests.Session]:
        """A session for calls that present ``tls``, given back to the pool afterwards."""
        context = client_context(tls) if tls is not None else None
        session = self._take(tls, context)
        try:
            yield session
        finally:
            self._give_back(tls, context, session)

    def _take(self, tls: ClientTls | None, context: ssl.SSLContext | None) -> requests.Session:
        with self._lock:
            if self._pid != os.getpid():  # forked: the sockets are the parent's
                self._pid, self._idle = os.getpid(), {}
            idle = self._idle.get(tls, [])
            while idle:
                session = idle.pop()
                if _context_of(session) is context:
                    return session
                session.close()  # of a revocation list since changed
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE and proxies from the environment must not apply
        if tls is not None and context is not None:
            session.cert = tls.cert
            session.verify = str(tls.ca_file)
            session.mount("https://", ContextAdapter(context))  # with the CA's revocation list
        return session

    def _give_back(self, tls: ClientTls | None, context: ssl.SSLContext | None, session: requests.Session) -> None:
        current = client_context(tls) if tls is not None else None
        with self._lock:
            idle = self._idle.setdefault(tls, [])
            if current is context and len(idle) < self.idle_at_most and self._pid == os.getpid():
                idle.append(session)
                return
        session.close()

    def close(self) -> None:
        """Close every idle session (their connections go; the next call opens new ones)."""
        with self._lock:
            sessions = [session for idle in self._idle.values() for session in idle]
            self._idle.clear()
        for session in sessions:
            session.close()


def _context_of(session: requests.Session) -> ssl.SSLContext | None:
    adapter = session.adapters.get("https://")
    return adapter.context if isinstance(adapter, ContextAdapter) else None


#: The sessions of this process's calls to partners' systems.
KEPT_SESSIONS = KeptSessions()
