"""Serving an uploaded material: a download of its detected type, or shown by the browser when it is
a picture or a PDF (never HTML: uploads are checked to be PDF, JPEG or PNG).

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


#: Types a browser may show itself (a picture, a PDF): what uploads are checked to be, nothing else.
VIEWABLE = frozenset({"application/pdf", "image/jpeg", "image/png"})


def attachment(material: Material, data: bytes, *, view: bool = False) -> Response:
    """The file as a download; with ``view``, shown by the browser when it is a picture or a PDF,
    in a sandbox (no script, no form, no same-origin access) all the same."""
    response = Response(data, 200, content_type=material.content_type)
    shown = view and material.content_type in VIEWABLE
    response.headers.set("Content-Disposition", "inline" if shown else "attachment", **disposition(material))
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'; object-src 'self'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def pdf_download(name: str, data: bytes) -> Response:
    """A PDF we issued (a written document, 文书) as a download under a readable name."""
    response = Response(data, 200, content_type="application/pdf")
    stand_in = "document.pdf"
    response.headers.set(
        "Content-Disposition", "attachment", filename=stand_in, **{"filename*": f"UTF-8''{quote(name, safe='')}"}
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
