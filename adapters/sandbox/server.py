"""Run the sandbox over HTTP: in a background thread (tests, demo) or in the foreground (CLI)."""

from __future__ import annotations

import threading
from types import TracebackType

from werkzeug.serving import BaseWSGIServer, make_server

from adapters.sandbox.app import SandboxApp
from adapters.sandbox.state import SandboxState


class SandboxServer:
    """A threaded werkzeug server for :class:`SandboxApp`; ``port=0`` picks a free port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.state = SandboxState()
        self.app = SandboxApp(self.state)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        return f"http://{self.host}:{self._server.server_port}"

    def start(self) -> SandboxServer:
        if self._server is not None:
            return self
        self._server = make_server(self.host, self.port, self.app, threaded=True)
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


def run(host: str = "127.0.0.1", port: int = 8701) -> None:
    """Serve in the foreground until Ctrl-C (``huiju sandbox``)."""
    server = make_server(host, port, SandboxApp(), threaded=True)
    print(f"Huiju sandbox on http://{host}:{server.server_port} (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
