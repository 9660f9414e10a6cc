"""Run the sandbox over HTTP, or HTTPS with client certificates (mTLS): in a background thread
(tests, demo) or in the foreground (CLI).

Beside it, always, the payment platform's checkout pages (:mod:`adapters.sandbox.checkout`) on a
listener of their own, plain HTTP on the same host: a payer's browser has no client certificate.

With ``tls`` (:class:`~adapters.tls.ServerTls`) every path, the control API (``/_sandbox/...``)
included, is served over HTTPS and a client must present a certificate that chains to the
bundle's CAs. The TLS handshake runs in the connection's own thread, not in the accept loop, so a
client that connects and stalls holds up nobody else; a failed handshake is logged and the
connection dropped before any request is read.
"""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from adapters.receiver import DEFAULT_MAX_SKEW_SECONDS, SandboxSecurity
from adapters.sandbox.app import SandboxApp
from adapters.sandbox.callbacks import CallbackSender
from adapters.sandbox.checkout import CheckoutApp
from adapters.sandbox.payments import PaymentDesk
from adapters.sandbox.state import SandboxState
from adapters.tls import ClientTls, ListenerContexts, ServerTls
from certs.store import SigningIdentity
from certs.trust import TrustStore

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


class SandboxServer:
    """A threaded werkzeug server for :class:`SandboxApp`; ``port=0`` picks a free port; HTTPS with ``tls``;
    the checkout pages on ``checkout_port`` (0: a free one); ``payer`` the payer mode (:mod:`.payments`)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        trust: TrustStore | None = None,
        signer: SigningIdentity | None = None,
        max_skew_seconds: float = DEFAULT_MAX_SKEW_SECONDS,
        callback_url: str | None = None,
        callback_delay: float = 0.3,
        tls: ServerTls | None = None,
        data_folder: Path | None = None,
        checkout_port: int = 0,
        payer: str = "at_once",
    ) -> None:
        self.host = host
        self.port = port
        self.checkout_port = checkout_port
        self.tls = tls
        # With a data folder, the journal, stores and owed callbacks survive a restart (durable.py).
        self.state = SandboxState(data_folder)
        self.security = security_config(trust, signer, max_skew_seconds)
        self.callbacks = _callbacks(self.security, callback_url, callback_delay, self.state)
        self.app = SandboxApp(self.state, self.security, self.callbacks, PaymentDesk(payer))
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._checkout: BaseWSGIServer | None = None
        self._checkout_thread: threading.Thread | None = None

    def call_back_to(self, url: str, *, delay: float = 0.3, tls: ClientTls | None = None) -> None:
        """Send callbacks to ``url`` from now on (secure mode only): for a Huiju started after us;
        with ``tls``, over mutual TLS presenting that client certificate."""
        if self.callbacks is not None and tls is None and self.callbacks.tls is None:
            self.callbacks.url, self.callbacks.delay = url, delay
        else:
            self.callbacks = _callbacks(self.security, url, delay, self.state, tls)
            self.app.callbacks = self.callbacks
            if self.callbacks is not None and self._server is not None:
                self.callbacks.resume()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{self.host}:{self._server.server_port}"

    @property
    def checkout_url(self) -> str:
        """Where payers pay (``payUrl`` is a page under it): plain HTTP, no client certificate."""
        if self._checkout is None:
            raise RuntimeError("the sandbox is not started")
        return _http_url(self.host, self._checkout.server_port)

    def start(self) -> SandboxServer:
        if self._server is not None:
            return self
        self._checkout = serve(self.host, self.checkout_port, CheckoutApp(self.app))
        self.checkout_port = self._checkout.server_port
        self.app.payments.checkout_url = self.checkout_url
        self._checkout_thread = _serving(self._checkout, "huiju-sandbox-checkout")
        self._server = serve(self.host, self.port, self.app, self.tls)
        self.port = self._server.server_port  # a restart after stop() comes back on the same port
        self._thread = _serving(self._server, "huiju-sandbox")
        if self.callbacks is not None:
            self.callbacks.resume()  # what a previous run still owed
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        listeners = [s for s in (self._server, self._checkout) if s is not None]
        # Each shutdown waits for its loop's next poll (half a second): both at once, not one after the other.
        stopping = [threading.Thread(target=s.shutdown, name="huiju-sandbox-stop") for s in listeners]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()
        for server in listeners:
            server.server_close()
        for serving in (self._thread, self._checkout_thread):
            if serving is not None:
                serving.join(timeout=5)
        self._server = self._checkout = None
        self._thread = self._checkout_thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _serving(server: BaseWSGIServer, name: str) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return thread


def _http_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def security_config(
    trust: TrustStore | None, signer: SigningIdentity | None, max_skew_seconds: float = DEFAULT_MAX_SKEW_SECONDS
) -> SandboxSecurity | None:
    """Secure mode needs both a trust store (requests) and a signing identity (replies), or neither."""
    if trust is None and signer is None:
        return None
    if trust is None or signer is None:
        raise ValueError("the sandbox's secure mode needs both trust and signer")
    if max_skew_seconds <= 0:
        raise ValueError("max_skew_seconds must be positive")
    return SandboxSecurity(trust=trust, signer=signer, max_skew_seconds=max_skew_seconds)


def run(
    host: str = "127.0.0.1",
    port: int = 8701,
    *,
    trust: TrustStore | None = None,
    signer: SigningIdentity | None = None,
    max_skew_seconds: float = DEFAULT_MAX_SKEW_SECONDS,
    callback_url: str | None = None,
    tls: ServerTls | None = None,
    callback_tls: ClientTls | None = None,
    data_folder: Path | None = None,
    checkout_port: int,
    payer: str = "at_once",
) -> None:
    """Serve in the foreground until Ctrl-C (``huiju sandbox``); secure mode with ``trust`` and ``signer``,
    and callbacks to ``callback_url`` (Huiju's inbound endpoint) in secure mode; HTTPS with client
    certificates (mTLS) with ``tls``; the journal, stores and owed callbacks kept in ``data_folder``;
    the checkout pages on ``checkout_port``, payments paid by the ``payer`` mode (:mod:`.payments`)."""
    security = security_config(trust, signer, max_skew_seconds)
    state = SandboxState(data_folder)
    callbacks = _callbacks(security, callback_url, 0.5, state, callback_tls)
    app = SandboxApp(state, security=security, callbacks=callbacks, payments=PaymentDesk(payer))
    checkout = serve(host, checkout_port, CheckoutApp(app))
    app.payments.checkout_url = _http_url(host, checkout.server_port)
    _serving(checkout, "huiju-sandbox-checkout")
    server = serve(host, port, app, tls)
    if callbacks is not None:
        callbacks.resume()
    mode = "secure mode, signed messages only" if security is not None else "plain mode"
    scheme = "http"
    if tls is not None:
        scheme = "https"
        mode += ", mTLS: client certificate required" if tls.require_client_cert else ", TLS"
    if data_folder is not None:
        mode += f", kept in {data_folder}"
    print(f"Huiju sandbox on {scheme}://{host}:{server.server_port} ({mode}; Ctrl-C to stop)", flush=True)
    payers = "payments wait for the payer there" if payer == "checkout" else "the simulated payer pays at once"
    print(f"  payment checkout pages on {app.payments.checkout_url}/checkout/... ({payers})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        checkout.shutdown()
        checkout.server_close()


HANDSHAKE_TIMEOUT = 10.0  # seconds a client may take to complete the TLS handshake
LINGER_TIMEOUT = 2.0  # seconds to wait for a refused client to close, after telling it why
LINGER_MAX_BYTES = 256 * 1024


class TlsRequestHandler(WSGIRequestHandler):
    """Completes the TLS handshake in the connection's thread before reading a request.

    A refused handshake (no client certificate, one from an unknown CA) is logged and answered
    with the TLS alert only: with TLS 1.3 the client may already have sent its request, and closing
    a socket with unread data makes the kernel send a reset that can overtake the alert. So the
    refused connection lingers: our side is shut, what the client sent is read and dropped (up to
    a cap and a timeout) until it closes, and the client reliably learns why it was refused.
    """

    def handle(self) -> None:
        connection = self.connection
        if isinstance(connection, ssl.SSLSocket):
            previous = connection.gettimeout()
            connection.settimeout(HANDSHAKE_TIMEOUT)
            try:
                connection.do_handshake()
            except (ssl.SSLError, OSError) as exc:
                self.log_error("TLS handshake refused: %s", exc)
                _linger(connection)
                return
            connection.settimeout(previous)
        super().handle()


def _linger(connection: ssl.SSLSocket) -> None:
    try:
        connection.shutdown(socket.SHUT_WR)  # after a failed handshake this is the plain TCP socket
        connection.settimeout(LINGER_TIMEOUT)
        drained = 0
        while drained < LINGER_MAX_BYTES:
            chunk = connection.recv(64 * 1024)
            if not chunk:
                break
            drained += len(chunk)
    except OSError:
        pass  # the client is gone already: nothing left to tell it


def serve(host: str, port: int, app: WSGIApplication, tls: ServerTls | None = None) -> BaseWSGIServer:
    """A threaded werkzeug server for ``app``, over HTTPS with ``tls``.

    werkzeug wraps the listening socket so that ``accept()`` performs the handshake in the one
    thread that accepts connections, where a stalled client would block every other one. Here the
    handshake is deferred (``do_handshake_on_connect=False``) to :class:`TlsRequestHandler`, in
    the connection's own thread.
    """
    if tls is None:
        return make_server(host, port, app, threaded=True)
    return over_tls(make_server(host, port, app, threaded=True, request_handler=TlsRequestHandler), tls)


def over_tls(server: BaseWSGIServer, tls: ServerTls) -> BaseWSGIServer:
    """Serve ``server``'s connections over TLS with ``tls``: each accepted connection is wrapped with
    the listener's current context (:class:`adapters.tls.ListenerContexts`: a refreshed revocation
    list counts from the next connection), its handshake left to :class:`TlsRequestHandler`."""
    contexts = ListenerContexts(tls)
    listener = server.socket
    server.get_request = lambda: contexts.accept(listener)  # type: ignore[method-assign]
    server.ssl_context = contexts.current()  # werkzeug reads it: wsgi.url_scheme https, SSL errors handled
    return server


def _callbacks(
    security: SandboxSecurity | None,
    url: str | None,
    delay: float,
    state: SandboxState,
    tls: ClientTls | None = None,
) -> CallbackSender | None:
    """Callbacks are signed: the sandbox sends them only in secure mode, and only when told where
    (over mutual TLS with ``tls``)."""
    if security is None or not url:
        return None
    return CallbackSender(url, security, delay=delay, state=state, tls=tls)
