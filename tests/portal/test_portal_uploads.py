"""Uploads through the application form: each bad file is refused with a message beside its material
and nothing of it is kept (no material row, no file on disk), while the good files and what was typed
in the same post are kept with the draft. A good file is stored outside the web root under a random
name, and handed back only as a download."""

from __future__ import annotations

import io
import zlib
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from portal_support import JPEG, PDF, PNG, RESIDENT, csrf_token, log_in
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from huiju.models import Draft, Material
from huiju.runtime import Runtime
from huiju.services import applications
from huiju.services.actors import load_actor

MB = 1024 * 1024


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


@pytest.fixture
def draft_id(runtime: Runtime, client: FlaskClient) -> int:
    with runtime.db.transaction() as session:
        actor = load_actor(session, RESIDENT)
        draft = applications.start_draft(session, actor, "elderly-care-subsidy")
        applications.save_draft(session, actor, draft.id, {"income_band": "low_income"})
        found = draft.id
    log_in(client)
    return found


def stored(runtime: Runtime) -> tuple[int, list[Path], dict[str, Any]]:
    folder = runtime.settings.resolved_uploads_folder
    with runtime.db.sessions() as session:
        rows = session.scalar(select(func.count()).select_from(Material)) or 0
        form = dict(session.scalars(select(Draft)).one().form_data)
    return rows, [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else [], form


def post(client: FlaskClient, draft_id: int, files: dict[str, tuple[bytes, str]], **fields: str) -> Any:
    token = csrf_token(text(client.get(f"/portal/drafts/{draft_id}")))
    data: dict[str, Any] = {"csrf_token": token, "action": "save", "income_band": "ordinary", **fields}
    for field, (content, name) in files.items():
        data[field] = FileStorage(io.BytesIO(content), filename=name)
    # Encoded in memory: the test client spools large bodies to a temporary file it never closes.
    boundary, body = encode_multipart(data)
    return client.post(f"/portal/drafts/{draft_id}", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")  # fmt: skip


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (PNG + bytes(10 * MB), "big.png", "超过 10.0 MB"),
        (b"PK\x03\x04" + bytes(100), "archive.zip", "不是 PDF、JPEG 或 PNG 文件"),
        (b"MZ\x90\x00" + bytes(100), "setup.pdf", "不是 PDF、JPEG 或 PNG 文件"),
        (PNG, "photo.pdf", "内容与扩展名不符：它实际是 PNG 文件"),
        (PDF, "scan.jpg", "内容与扩展名不符：它实际是 PDF 文件"),
        (b"<html><body><script>alert(1)</script></body></html>", "id.png", "HTML/SVG"),
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "drawing.svg",
            "HTML/SVG",
        ),
        (b"  <SVG onload=alert(1)>", "x.jpg", "HTML/SVG"),
        (
            PDF.replace(b"/Type /Catalog", b"/Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert(1)) >>"),
            "form.pdf",
            "含有脚本或自动执行的动作",
        ),
        (
            PDF.replace(b"/Type /Catalog", b"/Type /Catalog /Open#41ction << /S /Java#53cript /J#53 (app.alert(1)) >>"),
            "escaped.pdf",
            "含有脚本或自动执行的动作",
        ),
        (
            PDF.replace(
                b"%%EOF",
                b"9 0 obj << /Type /ObjStm /Filter /FlateDecode >>\nstream\n"
                + zlib.compress(b"<< /S /JavaScript /JS (app.alert(1)) >>")
                + b"\nendstream\nendobj\n%%EOF",
            ),
            "packed.pdf",
            "含有脚本或自动执行的动作",
        ),
        (PNG, "../../etc/cron.d/x.png", "不能包含目录"),
        (PNG, "..\\..\\windows\\x.png", "不能包含目录"),
        (b"", "empty.png", "是空文件"),
    ],
    ids=[
        "oversize",
        "zip",
        "exe-as-pdf",
        "png-as-pdf",
        "pdf-as-jpg",
        "html",
        "svg-script",
        "svg-bare",
        "pdf-javascript",
        "pdf-escaped-names",
        "pdf-object-stream",
        "traversal",
        "traversal-backslash",
        "empty",
    ],
)
def test_bad_files_are_refused_and_nothing_of_them_is_kept(
    client: FlaskClient, runtime: Runtime, draft_id: int, content: bytes, name: str, message: str
) -> None:
    rows, files, form = stored(runtime)
    assert (rows, files, form) == (0, [], {"income_band": "low_income"})
    # The good file and the typed field of the same post are kept; the bad file leaves nothing.
    response = post(client, draft_id, {"file_household_register": (PNG, "ok.png"), "file_id_card": (content, name)})
    assert response.status_code == 400, text(response)[:300]
    page = text(response)
    assert message in page
    # The problem stands beside the material it concerns, tied to its file input, and in the summary.
    assert 'id="file-id_card-error"' in page and 'aria-describedby="file-id_card-error' in page
    assert '<a href="#file-id_card">' in page and 'id="error-summary"' in page
    rows, files, form = stored(runtime)
    assert (rows, len(files), form) == (1, 1, {"income_band": "ordinary"})
    with runtime.db.sessions() as session:
        assert session.scalars(select(Material.original_name)).all() == ["ok.png"]
    assert "ok.png" in page  # shown with the draft, removable


def test_a_request_over_the_total_cap_is_refused(client: FlaskClient, runtime: Runtime, draft_id: int) -> None:
    before = stored(runtime)
    response = post(client, draft_id, {"file_id_card": (PNG + bytes(81 * MB), "huge.png")})
    assert response.status_code == 413
    assert "文件过大" in text(response)
    assert stored(runtime) == before


def test_good_files_are_kept_outside_the_web_root_and_served_as_downloads(
    client: FlaskClient, runtime: Runtime, draft_id: int
) -> None:
    response = post(
        client, draft_id, {"file_id_card": (JPEG, "身份证 正面.jpeg"), "file_household_register": (PDF, "hk.pdf")}
    )
    assert response.status_code == 302
    rows, files, form = stored(runtime)
    assert (rows, len(files), form) == (2, 2, {"income_band": "ordinary"})
    uploads = runtime.settings.resolved_uploads_folder
    assert all(uploads in p.parents and "portal" not in p.parts and p.suffix == "" for p in files)
    with runtime.db.sessions() as session:
        material = session.scalars(select(Material).where(Material.code == "id_card")).one()
        assert (material.original_name, material.content_type) == ("身份证 正面.jpeg", "image/jpeg")
        assert material.storage_key not in material.original_name
    download = client.get(f"/portal/materials/{material.id}")
    assert download.status_code == 200 and download.data == JPEG
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Type"] == "image/jpeg"
    assert "default-src 'none'" in download.headers["Content-Security-Policy"]
