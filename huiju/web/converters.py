"""The ``<int:...>`` of every route: a whole number an INTEGER column can hold.

werkzeug's own converter takes any length of digits; a number larger than the database's INTEGER
reached a lookup by id and failed there (an overflow, a 500) instead of naming nothing. Here it
matches no route: 404, like any id that names nothing.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

from huiju.db import INT_MAX


class DatabaseId(IntegerConverter):
    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:  # noqa: A002 - werkzeug's name
        kwargs.setdefault("max", INT_MAX)
        super().__init__(map, *args, **kwargs)


def bounded_ids(app: Flask) -> None:
    """Use :class:`DatabaseId` for ``<int:...>`` in ``app``'s routes (before any is added)."""
    app.url_map.converters["int"] = DatabaseId
