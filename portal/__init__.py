"""The residents' web app (居民门户): browse the item catalog, sign in, follow one's own cases.

Mounted on an application built by :func:`huiju.app.web.create_app` (which holds the Huiju runtime)::

    from portal import init_portal
    init_portal(app)            # pages under /portal

What is built here lives on that app only: Flask-Babel with the portal's own catalogue (Chinese
first, English one click away), server-side sessions, the sign-in throttle, the blueprint and its
security headers.
"""

from __future__ import annotations

from flask import Flask, Response, request

from huiju.web import steps
from huiju.web.runtime import EXTENSION_KEY
from huiju.web.throttle import init_throttle
from portal.i18n import Translator, chosen_locale, init_babel
from portal.security import configure_session, secure_headers
from portal.views import create_portal_blueprint

URL_PREFIX = "/portal"


def init_portal(app: Flask, *, url_prefix: str = URL_PREFIX) -> None:
    """Register the portal on ``app`` under ``url_prefix`` (its session, language, limits, headers)."""
    runtime = app.extensions[EXTENSION_KEY]
    configure_session(app, runtime)
    translator = Translator(init_babel(app))
    throttle = init_throttle(app, runtime)
    app.register_blueprint(create_portal_blueprint(throttle.limiter, translator), url_prefix=url_prefix)
    steps.install(app, chosen_locale)
    static_prefix = f"{url_prefix}/static/"
    production = runtime.settings.production

    @app.after_request
    def portal_headers(response: Response) -> Response:
        # On the application, not the blueprint: routing errors under the prefix get them too.
        path = request.path
        if path == url_prefix or path.startswith(url_prefix + "/"):
            return secure_headers(response, static_prefix, production=production)
        return response


__all__ = ["URL_PREFIX", "init_portal"]
