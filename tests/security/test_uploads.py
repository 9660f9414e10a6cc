"""Uploads are read by real parsers: pikepdf for PDFs (whatever the filters and object streams),
Pillow for pictures (decoded whole, within a pixel limit, stored without metadata)."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pikepdf
import pytest
from PIL import Image
from sqlalchemy import select

from huiju.errors import InputError
from huiju.models import Material
from huiju.runtime import Runtime
from huiju.services import applications, materials
from huiju.services.actors import load_actor
from huiju.services.materials import Upload, UploadStore, check_upload
from tests.security.hostile_pdf import packed_action
from tests.support import files

MB = 1024 * 1024


def refusal(data: bytes, name: str, **kwargs: Any) -> str:
    with pytest.raises(InputError) as refused:
        check_upload(Upload("id_card", name, data), 10 * MB, **kwargs)
    return refused.value.localized("en")


def saved(build: Any) -> bytes:
    document = pikepdf.new()
    document.add_blank_page()
    build(document)
    out = io.BytesIO()
    document.save(out, static_id=True, **getattr(build, "save", {}))
    return out.getvalue()


@pytest.mark.parametrize("filter_name", ["ASCIIHexDecode", "LZWDecode"])
def test_an_open_action_hidden_in_an_object_stream_under_any_filter_is_refused(filter_name: str) -> None:
    data = packed_action(filter_name)
    assert b"/OpenAction" not in data and b"JavaScript" not in data  # nothing for a byte scan to see
    assert "script or an automatic action" in refusal(data, "form.pdf")


def test_a_javascript_action_as_a_direct_object_in_a_page_annotation_is_refused() -> None:
    def build(document: pikepdf.Pdf) -> None:
        action = pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("cmd.exe"))
        link = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 50, 50], A=action)
        document.pages[0].Annots = pikepdf.Array([link])  # direct, inside the page: not in pdf.objects alone

    build.save = {"object_stream_mode": pikepdf.ObjectStreamMode.generate}  # type: ignore[attr-defined]
    assert "script or an automatic action" in refusal(saved(build), "scan.pdf")


def test_embedded_files_are_refused() -> None:
    def build(document: pikepdf.Pdf) -> None:
        document.attachments["invoice.exe"] = pikepdf.AttachedFileSpec(document, b"MZ\x90\x00", filename="invoice.exe")

    assert "embedded files" in refusal(saved(build), "letter.pdf")


@pytest.mark.parametrize("user_password", ["", "secret"])
def test_encrypted_pdfs_are_refused(user_password: str) -> None:
    def build(document: pikepdf.Pdf) -> None:
        pass

    build.save = {"encryption": pikepdf.Encryption(owner="owner", user=user_password, R=6)}  # type: ignore[attr-defined]
    assert "encrypted or protected by a password" in refusal(saved(build), "locked.pdf")


def test_a_harmless_pdf_passes_even_with_an_open_action_that_only_shows_the_first_page() -> None:
    def build(document: pikepdf.Pdf) -> None:
        document.Root.OpenAction = pikepdf.Array([document.pages[0].obj, pikepdf.Name.Fit])

    data = saved(build)
    checked = check_upload(Upload("id_card", "scan.pdf", data), 10 * MB)
    assert (checked.content_type, checked.data) == ("application/pdf", data)


def test_a_jpeg_with_a_script_appended_is_refused() -> None:
    data = files.JPEG + b"<script>fetch('/portal/cases').then(r => r.text()).then(alert)</script>"
    assert "hides a script or web page" in refusal(data, "photo.jpg")


def test_a_picture_that_is_not_one_is_refused() -> None:
    assert "damaged or not a real JPEG" in refusal(files.JPEG[:200], "photo.jpg")
    assert "damaged or not a real PNG" in refusal(files.PNG[:40] + bytes(40), "photo.png")


@pytest.mark.parametrize(("size", "limit"), [((30_000, 30_000), None), ((4_000, 3_000), 10_000_000)])
def test_a_pixel_bomb_is_refused_before_it_is_decoded(size: tuple[int, int], limit: int | None) -> None:
    bomb = files.png_bomb(*size)
    assert len(bomb) < 64 * 1024  # a small file that would decode to hundreds of megabytes
    kwargs = {"max_pixels": limit} if limit else {}
    assert "too large: at most" in refusal(bomb, "bomb.png", **kwargs)


def test_gps_position_and_camera_are_stripped_when_a_photo_is_stored(sqlite_runtime: Runtime) -> None:
    photo = files.jpeg_with_gps()
    assert Image.open(io.BytesIO(photo)).getexif().get_ifd(0x8825)  # the position is in the upload
    photo += b"trailing bytes of a phone's own format"
    rt = sqlite_runtime
    store = UploadStore.from_settings(rt.settings)
    with rt.db.transaction() as session:
        actor = load_actor(session, "resident-zhang")
        draft = applications.start_draft(session, actor, "elderly-care-subsidy")
        material = materials.store(session, store, actor, Upload("id_card", "photo.jpg", photo), draft_id=draft.id)
        key = material.storage_key
    kept = store.path_of(key).read_bytes()
    with rt.db.sessions() as session:
        row = session.scalars(select(Material).where(Material.storage_key == key)).one()
        assert (row.size, row.sha256) == (len(kept), hashlib.sha256(kept).hexdigest())
    stored = Image.open(io.BytesIO(kept))
    exif = stored.getexif()
    assert exif.get_ifd(0x8825) == {} and 0x010F not in exif  # no position, no camera
    assert exif.get(0x0112) == 6  # still shown upright
    assert b"trailing bytes" not in kept and b"HuijuPhone" not in kept
    original = Image.open(io.BytesIO(photo))
    assert stored.tobytes() == original.tobytes()  # the image data itself is untouched


def test_a_clean_picture_is_stored_exactly_as_sent() -> None:
    for data, name in ((files.PNG, "a.png"), (files.JPEG, "a.jpg")):
        assert check_upload(Upload("id_card", name, data), 10 * MB).data == data
