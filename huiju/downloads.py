"""Serving an uploaded material: always as a download of its detected type, never shown inline.

The portal and the console both hand files out this way; the checks of who may read a file are
the services' (:func:`huiju.services.materials.open_material`), not this module's.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import quote

from flask import Response

from huiju.models import Material


def disposition(material: Material) -> dict[str, str]:
    """The file name parameters: plain ASCII as it is; otherwise an ASCII stand-in for old clients
    and the real name in UTF-8 (RFC 6266 / RFC 8187 ``filename*``), since headers are Latin-1."""
    name = material.original_name
    if name.isascii():
        return {"filename": name}
    suffix = PurePosixPath(name).suffix
    stand_in = f"material-{material.id}{suffix if suffix.isascii() else ''}"
    return {"filename": stand_in, "filename*": f"UTF-8''{quote(name, safe='')}"}


def attachment(material: Material, data: bytes) -> Response:
    response = Response(data, 200, content_type=material.content_type)
    response.headers.set("Content-Disposition", "attachment", **disposition(material))
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
