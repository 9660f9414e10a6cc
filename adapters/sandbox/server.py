"""Run the sandbox over HTTP: in a background thread (tests, demo) or in the foreground (CLI)."""

from __future__ import annotations

import threading
from types import TracebackType

from werkzeug.serving import BaseWSGIServer, make_server

from adapters.receiver import DEFAULT_MAX_SKEW_SECONDS, SandboxSecurity
from adapters.sandbox.app import SandboxApp
from adapters.sandbox.callbacks import CallbackSender
from adapters.sandbox.state import SandboxState
from certs.store import SigningIdentity
from certs.trust import TrustStore


class SandboxServer:
    """A threaded werkzeug server for :class:`SandboxApp`; ``port=0`` picks a free port."""

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
    ) -> None:
        self.host = host
        self.port = port
        self.state = SandboxState()
        self.security = security_config(trust, signer, max_skew_seconds)
        self.callbacks = _callbacks(self.security, callback_url, callback_delay)
        self.app = SandboxApp(self.state, self.security, self.callbacks)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def call_back_to(self, url: str, *, delay: float = 0.3) -> None:
        """Send callbacks to ``url`` from now on (secure mode only): for a Huiju started after us."""
        self.callbacks = _callbacks(self.security, url, delay)
        self.app.callbacks = self.callbacks

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        return f"http://{self.host}:{self._server.server_port}"

    def start(self) -> SandboxServer:
        if self._server is not None:
            return self
        self._server = make_server(self.host, self.port, self.app, threaded=True)
        self.port = self._server.server_port  # a restart after stop() comes back on the same port
        self._thread = threading.Thread(target=self._server.serve_forever, name="huiju-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


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
) -> None:
    """Serve in the foreground until Ctrl-C (``huiju sandbox``); secure mode with ``trust`` and ``signer``,
    and callbacks to ``callback_url`` (Huiju's inbound endpoint) in secure mode."""
    security = security_config(trust, signer, max_skew_seconds)
    app = SandboxApp(security=security, callbacks=_callbacks(security, callback_url, 0.5))
    server = make_server(host, port, app, threaded=True)
    mode = "secure mode, signed messages only" if security is not None else "plain mode"
    print(f"Huiju sandbox on http://{host}:{server.server_port} ({mode}; Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _callbacks(security: SandboxSecurity | None, url: str | None, delay: float) -> CallbackSender | None:
    """Callbacks are signed: the sandbox sends them only in secure mode, and only when told where."""
    if security is None or not url:
        return None
    return CallbackSender(url, security, delay=delay)
