"""The officer console (工作台): a Flask-AppBuilder application for community officers, street
reviewers, administrators and integrators.

Built by :func:`create_console` and mounted by :func:`huiju.app.web.create_app` under ``/console`` in
the same WSGI process (a separate Flask app: FAB sets up Flask-Babel itself, and so does the
portal). It shares the Huiju :class:`~huiju.app.bootstrap.Runtime` of the web process; every page is a
thin view over :mod:`huiju.services`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from huiju.runtime import Runtime

URL_PREFIX = "/console"
HERE = Path(__file__).parent
#: Where ``make console-assets`` installs bpmn-js and ECharts from the npm registry.
VENDOR = HERE / "static" / "vendor"


def create_console(
    runtime: Runtime, test_config: dict[str, Any] | None = None, *, url_prefix: str = URL_PREFIX
) -> Flask:
    from officer_console.app import build

    return build(runtime, test_config, url_prefix=url_prefix)


__all__ = ["URL_PREFIX", "VENDOR", "create_console"]
