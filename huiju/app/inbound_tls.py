"""The inbound endpoint (``/exchange/soap``) served over mutual TLS in secure mode, as the systems'
side is (X-Road: security servers talk to each other over mTLS only).

``huiju serve`` runs a second listener (``HUIJU_INBOUND_HOST/PORT``) that speaks TLS 1.2 or later
with Huiju's ``tls-server`` certificate and requires a client certificate that chains to a CA of
``trusted.pem`` and is not on the revocation list (:func:`adapters.tls.server_context`, read again
when the list changes); the
handshake fails otherwise, before any byte of a request is read. The listener passes only the
inbound endpoint on. The application's endpoint in turn answers 403 to a call that did not come
through such a listener (``INBOUND_REQUIRE_CLIENT_CERT``), so that a plain-HTTP port or a proxy
that forwards everything cannot bypass the certificate check.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, make_server

from adapters.sandbox.server import TlsRequestHandler, over_tls
from adapters.tls import ServerTls

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

#: Where the verified client certificate is put in the WSGI environment (``ssl.getpeercert()``).
CLIENT_CERT_KEY = "huiju.tls.client_certificate"
INBOUND_PATHS = ("/exchange/soap",)


def client_certificate(environ: dict[str, Any]) -> dict[str, Any] | None:
    """The client certificate verified at the TLS handshake of this request, or None."""
    found = environ.get(CLIENT_CERT_KEY)
    return found if isinstance(found, dict) and found else None


def member_of(certificate: dict[str, Any]) -> str | None:
    """The member a certificate names (its subject's organisational unit, as the PKI issues it)."""
    for rdn in certificate.get("subject", ()):
        for key, value in rdn:
            if key == "organizationalUnitName":
                return str(value)
    return None


class InboundRequestHandler(TlsRequestHandler):
    """The handshake in the connection's own thread (see the sandbox's), then the verified peer
    certificate handed to the application."""

    def make_environ(self) -> WSGIEnvironment:
        environ = super().make_environ()
        if isinstance(self.connection, ssl.SSLSocket):
            environ[CLIENT_CERT_KEY] = self.connection.getpeercert() or None
        return environ


class OnlyInbound:
    """Passes the inbound endpoint on, and answers 404 to anything else on this listener."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") in INBOUND_PATHS:
            return self.app(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"only /exchange/soap is served here\n"]


def serve_inbound(host: str, port: int, app: WSGIApplication, tls: ServerTls) -> BaseWSGIServer:
    """A threaded server for the inbound endpoint over mutual TLS (client certificate required)."""
    if not tls.require_client_cert:
        raise ValueError("the inbound endpoint requires client certificates")
    server = make_server(host, port, OnlyInbound(app), threaded=True, request_handler=InboundRequestHandler)
    return over_tls(server, tls)
