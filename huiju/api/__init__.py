"""The JSON API (``/api/v1``): HTTP Basic, problem+json errors, described by ``openapi.yaml``.

Register :data:`bp` on an application whose ``extensions["huiju"]`` holds the runtime (see
:func:`huiju.app.web.create_app`).
"""

from __future__ import annotations

from flask import Blueprint

from huiju.api import errors, o2o, views

bp = Blueprint("api", __name__)
views.register(bp)
o2o.register(bp)
errors.register(bp)

__all__ = ["bp"]
