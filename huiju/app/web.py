"""The web application factory: the JSON API, the inbound endpoint and the portal in one Flask app, with the
officers' console (a Flask-AppBuilder app of its own) mounted beside it at /console.

Nothing is built at import time; :func:`create_app` builds the runtime from the settings unless it
is given one (tests, the embedded launcher that shares one runtime with the worker).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from sqlalchemy import text
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from exchange.inbound import MAX_REQUEST_BYTES, wsdl_text
from huiju.api import bp as api_bp
from huiju.api.open311 import bp as open311_bp
from huiju.app.bootstrap import build_runtime
from huiju.app.callbacks import inbound_endpoint
from huiju.runtime import Runtime
from huiju.web.runtime import EXTENSION_KEY
from officer_console import URL_PREFIX as CONSOLE_PREFIX
from officer_console import create_console
from portal import init_portal

API_PREFIX = "/api/v1"
OPEN311_PREFIX = "/open311"


def create_app(runtime: Runtime | None = None, test_config: dict[str, Any] | None = None) -> Flask:
    runtime = runtime or build_runtime()
    app = Flask(__name__, instance_path=str(runtime.settings.instance_path.resolve()))
    app.config.from_mapping(SECRET_KEY=runtime.settings.secret_key)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    if test_config:
        app.config.from_mapping(test_config)
    app.extensions[EXTENSION_KEY] = runtime
    app.register_blueprint(api_bp, url_prefix=API_PREFIX)
    app.register_blueprint(open311_bp, url_prefix=OPEN311_PREFIX)  # service requests for other channels

    inbound = inbound_endpoint(runtime)

    @app.route("/exchange/soap", methods=["GET", "POST"])
    def exchange_soap() -> Response:
        # The callbacks of the government systems; verified and answered by the exchange layer.
        if request.method == "GET":
            if "wsdl" not in request.args:
                return Response("POST a signed SOAP 1.1 call here, or GET ?wsdl", 405, {"Allow": "POST"})
            return Response(wsdl_text(request.base_url), 200, {"Content-Type": "text/xml; charset=utf-8"})
        # Never more than the cap in memory, with or without Content-Length (chunked bodies).
        data = request.stream.read(MAX_REQUEST_BYTES + 1)
        status, body = inbound.handle(data)
        return Response(body, status, {"Content-Type": "text/xml; charset=utf-8"})

    @app.get("/healthz")
    def healthz() -> tuple[dict[str, str], int]:
        # Alive and able to reach its database: what a load balancer needs to know.
        try:
            with runtime.db.sessions() as session:
                session.execute(text("SELECT 1"))
        except Exception:
            app.logger.exception("health check: the database does not answer")
            return {"status": "unavailable", "database": "unreachable"}, 503
        return {"status": "ok", "database": "ok"}, 200

    init_portal(app)  # the residents' pages under /portal
    # The officers' console is a Flask-AppBuilder app of its own (its own Babel, session cookie
    # and error pages), served by the same WSGI process under /console.
    console = create_console(runtime, test_config)
    app.extensions["huiju.console"] = console
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {CONSOLE_PREFIX: console.wsgi_app})  # type: ignore[method-assign]
    return app
