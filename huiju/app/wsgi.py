"""The web process under a WSGI server (gunicorn): ``gunicorn 'huiju.app.wsgi:application()'``.

Each worker process builds its own runtime (database pools, Celery sender, keys) after the fork:
nothing is shared between processes but the database and the broker.
"""

from __future__ import annotations

from flask import Flask

from huiju import logs
from huiju.app.bootstrap import build_runtime
from huiju.app.web import create_app
from huiju.settings import load_settings


def application() -> Flask:
    settings = load_settings()
    logs.configure(settings)
    return create_app(build_runtime(settings))
