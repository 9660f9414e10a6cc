"""The web application factory: the JSON API, the inbound endpoint and the portal in one Flask app, with the
officers' console (a Flask-AppBuilder app of its own) mounted beside it at /console.

Nothing is built at import time; :func:`create_app` builds the runtime from the settings unless it
is given one (tests, the embedded launcher that shares one runtime with the worker).

Security (see the README's "Security"): every response carries the same security headers; sign-ins
and the inbound endpoint are throttled by one limiter whose storage the settings declare; in secure
mode the inbound endpoint answers only calls that came over mutual TLS with a client certificate of
a trusted member (:mod:`huiju.app.inbound_tls` serves it so), and refuses any other with 403.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from flask_limiter.util import get_remote_address
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from adapters.soapserver import SoapFault, fault_envelope
from exchange.inbound import MAX_REQUEST_BYTES, wsdl_text
from huiju.api import bp as api_bp
from huiju.api.open311 import bp as open311_bp
from huiju.app.bootstrap import build_runtime
from huiju.app.callbacks import inbound_endpoint
from huiju.app.inbound_tls import client_certificate
from huiju.app.observability import register_observability
from huiju.runtime import Runtime
from huiju.services import audit
from huiju.web import headers
from huiju.web.converters import bounded_ids
from huiju.web.runtime import EXTENSION_KEY
from huiju.web.throttle import init_throttle
from officer_console import URL_PREFIX as CONSOLE_PREFIX
from officer_console import create_console
from portal import URL_PREFIX as PORTAL_PREFIX
from portal import init_portal

API_PREFIX = "/api/v1"
OPEN311_PREFIX = "/open311"


def create_app(runtime: Runtime | None = None, test_config: dict[str, Any] | None = None) -> Flask:
    runtime = runtime or build_runtime()
    app = Flask(__name__, instance_path=str(runtime.settings.instance_path.resolve()))
    bounded_ids(app)
    app.config.from_mapping(SECRET_KEY=runtime.settings.secret_key)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    if test_config:
        app.config.from_mapping(test_config)
    app.config.setdefault("INBOUND_REQUIRE_CLIENT_CERT", runtime.settings.resolved_inbound_mtls)
    app.extensions[EXTENSION_KEY] = runtime
    throttle = init_throttle(app, runtime)
    app.register_blueprint(api_bp, url_prefix=API_PREFIX)
    app.register_blueprint(open311_bp, url_prefix=OPEN311_PREFIX)  # service requests for other channels

    @app.before_request
    def audit_origin() -> None:
        # What this request records in the audit trail is marked with where it came from.
        channel = "api" if request.path.startswith(API_PREFIX) else "portal"
        audit.set_origin(channel, request.remote_addr)

    app.teardown_request(audit.clear_origin)

    inbound = inbound_endpoint(runtime)

    @app.route("/exchange/soap", methods=["GET", "POST"])
    @throttle.limiter.limit(lambda: runtime.settings.exchange_rate_limit, key_func=get_remote_address)
    def exchange_soap() -> Response:
        # The callbacks of the government systems; verified and answered by the exchange layer.
        if app.config["INBOUND_REQUIRE_CLIENT_CERT"] and not client_certificate(request.environ):
            fault = fault_envelope(SoapFault("Client", "callbacks are accepted over mutual TLS only, with the "
                                                       "client certificate of a trusted member"))  # fmt: skip
            return Response(fault, 403, {"Content-Type": "text/xml; charset=utf-8"})
        if request.method == "GET":
            if "wsdl" not in request.args:
                return Response("POST a signed SOAP 1.1 call here, or GET ?wsdl", 405, {"Allow": "POST"})
            return Response(wsdl_text(request.base_url), 200, {"Content-Type": "text/xml; charset=utf-8"})
        # Never more than the cap in memory, with or without Content-Length (chunked bodies).
        data = request.stream.read(MAX_REQUEST_BYTES + 1)
        status, body = inbound.handle(data)
        return Response(body, status, {"Content-Type": "text/xml; charset=utf-8"})

    register_observability(app, runtime)  # /healthz, /metrics, the log context of a request

    production = runtime.settings.production

    @app.after_request
    def security_headers(response: Response) -> Response:
        # The portal's pages get its own policy (portal.security); everything else here is JSON or XML.
        if not (request.path == PORTAL_PREFIX or request.path.startswith(PORTAL_PREFIX + "/")):
            headers.apply(response, headers.API_CSP, production=production)
        return response

    init_portal(app)  # the residents' pages under /portal
    # The officers' console is a Flask-AppBuilder app of its own (its own Babel, session cookie
    # and error pages), served by the same WSGI process under /console.
    console = create_console(runtime, test_config)
    app.extensions["huiju.console"] = console
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {CONSOLE_PREFIX: console.wsgi_app})  # type: ignore[method-assign]
    return app
