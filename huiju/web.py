"""The web application factory: one Flask app for the JSON API (and, later, portal and console).

Nothing is built at import time; :func:`create_app` builds the runtime from the settings unless it
is given one (tests, the embedded launcher that shares one runtime with the worker).
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import text

from huiju.api import bp as api_bp
from huiju.api.runtime import EXTENSION_KEY
from huiju.bootstrap import Runtime, build_runtime

API_PREFIX = "/api/v1"


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

    return app
