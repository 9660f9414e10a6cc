"""Uploaded materials (申请材料): checked, stored outside the web root, handed out only as downloads.

What a resident uploads is untrusted. Before anything is written, a file must:

- be no larger than ``HUIJU_UPLOAD_MAX_BYTES`` and not empty;
- carry a plain file name (no folder part, no ``..``, no control characters: path traversal);
- be a PDF, JPEG or PNG *by its content* (the magic bytes), never judged by its name;
- have an extension that agrees with that content (a PNG called ``.pdf`` is refused);
- hold no markup or script: HTML and SVG are refused whatever they are called, and so is a picture
  with markup inside or appended to it;
- be what it claims to be, read by a real parser (:mod:`huiju.services.upload_inspection`): a PDF opened
  with pikepdf, unencrypted, with no JavaScript, launch, embedded-file or automatic action anywhere
  in its objects; a picture decoded whole by Pillow within a pixel limit (decompression bombs),
  stored without its metadata (EXIF with GPS position, XMP, comments).

A file that passes is written under a random storage key (never the resident's name for it) in the
uploads folder, with its SHA-256; the :class:`~huiju.models.Material` row is added in the caller's
transaction. If that transaction rolls back, the file is removed again: a refusal or a failure
leaves neither a row nor a file.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju.errors import InputError, NotFoundError
from huiju.i18n import _
from huiju.models import Case, CaseStatus, Draft, Material, User
from huiju.services import upload_inspection
from huiju.services.actors import Actor
from huiju.services.cases import get_case
from huiju.settings import Settings

#: Detected content type -> the extensions a file of that type may carry.
ALLOWED_TYPES: dict[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
}
MAX_NAME_LENGTH = 200
#: Largest picture accepted, in pixels (a 48-megapixel phone photo is 8000 x 6000).
DEFAULT_MAX_PIXELS = 50_000_000
#: Markup that a browser would run or render, looked for at the start of the content.
_MARKUP = re.compile(rb"^\s*<(?:!doctype|html|head|body|script|svg|\?xml|iframe|object|embed|a\s|img\s|div|meta)",
                     re.IGNORECASE)  # fmt: skip
_SCRIPT_ANYWHERE = re.compile(rb"<\s*(?:script|svg|html|iframe)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Upload:
    """One file as received: the material code it answers, its name as sent, its bytes."""

    code: str
    filename: str
    data: bytes


@dataclass(frozen=True)
class UploadStore:
    """Where files go and how large they may be (from the settings)."""

    folder: Path
    max_bytes: int
    max_pixels: int = DEFAULT_MAX_PIXELS

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadStore:
        return cls(settings.resolved_uploads_folder, settings.upload_max_bytes, settings.upload_max_pixels)

    def path_of(self, storage_key: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{32}", storage_key):
            raise NotFoundError(_("no such file"))
        return self.folder / storage_key[:2] / storage_key


def sniff(data: bytes) -> str | None:
    """The content type by magic bytes: PDF, JPEG or PNG; None for anything else."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


def clean_name(filename: str) -> str:
    """The file name as the resident gave it, if it is a plain name; InputError otherwise."""
    name = unicodedata.normalize("NFC", filename or "").strip()
    if not name:
        raise InputError(_("the file has no name"), field="file")
    if "/" in name or "\\" in name or name in (".", "..") or name.startswith(".") or ".." in name:
        raise InputError(_("the file name '{name}' may not contain folders or '..'", name=name[:80]), field="file")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InputError(_("the file name contains control characters"), field="file")
    if len(name) > MAX_NAME_LENGTH:
        raise InputError(_("the file name is longer than {limit} characters", limit=MAX_NAME_LENGTH), field="file")
    return name


@dataclass(frozen=True)
class CheckedUpload:
    """A file that passed every check: its cleaned name, detected type and the bytes to store (a
    picture without its metadata)."""

    name: str
    content_type: str
    data: bytes


def check_upload(
    upload: Upload, max_bytes: int, allowed_codes: set[str] | None = None, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> CheckedUpload:
    """Every check, before anything is written."""
    if allowed_codes is not None and upload.code not in allowed_codes:
        raise InputError(_("'{code}' is not a material of this application", code=upload.code), field="code")
    name = clean_name(upload.filename)
    size = len(upload.data)
    if size == 0:
        raise InputError(_("the file '{name}' is empty", name=name), field="file")
    if size > max_bytes:
        raise InputError(
            _("the file '{name}' is larger than {limit} MB", name=name, limit=round(max_bytes / 1048576, 1)),
            field="file",
        )
    head = upload.data[:4096]
    if _MARKUP.match(head) or (sniff(upload.data) is None and _SCRIPT_ANYWHERE.search(upload.data)):
        raise InputError(_("the file '{name}' is a web page or drawing with markup (HTML/SVG); "
                           "upload a PDF, JPEG or PNG", name=name), field="file")  # fmt: skip
    content_type = sniff(upload.data)
    if content_type is None:
        raise InputError(_("the file '{name}' is not a PDF, JPEG or PNG", name=name), field="file")
    extension = os.path.splitext(name)[1].lower()
    if extension not in ALLOWED_TYPES[content_type]:
        raise InputError(
            _("the content of '{name}' does not match its extension: it is a {kind} file",
              name=name, kind=ALLOWED_TYPES[content_type][0].lstrip(".").upper()),
            field="file",
        )  # fmt: skip
    if content_type == "application/pdf":
        upload_inspection.check_pdf(name, upload.data)
        return CheckedUpload(name, content_type, upload.data)
    if _SCRIPT_ANYWHERE.search(upload.data):
        # A picture that is also a web page (a polyglot): markup inside or appended after the image.
        raise InputError(_("the picture '{name}' hides a script or web page in its bytes", name=name), field="file")
    picture = upload_inspection.check_picture(name, content_type, upload.data, max_pixels)
    return CheckedUpload(name, content_type, picture.data)


def store(
    session: Session,
    uploads: UploadStore,
    actor: Actor,
    upload: Upload,
    *,
    case_id: int | None = None,
    draft_id: int | None = None,
    pending_case_id: int | None = None,
    round_: int = 0,
    allowed_codes: set[str] | None = None,
    unattached: bool = False,
) -> Material:
    """Check ``upload``, write it under a random key and add its row (in the caller's transaction).

    ``unattached``: a file that belongs to neither (an O2O order's photo, referred to by the order).
    """
    owners = sum(owner is not None for owner in (case_id, draft_id, pending_case_id))
    if owners != 1 and not (unattached and owners == 0):
        raise InputError(_("a material belongs to one draft or one case"))
    checked = check_upload(upload, uploads.max_bytes, allowed_codes, max_pixels=uploads.max_pixels)
    key = secrets.token_hex(16)
    path = uploads.path_of(key)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # O_EXCL: never write over a file; 0600: the web server's user only, never executable.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(checked.data)
    _remove_on_rollback(session, path)
    material = Material(
        case_id=case_id, draft_id=draft_id, pending_case_id=pending_case_id, code=upload.code, round=round_,
        original_name=checked.name, content_type=checked.content_type, size=len(checked.data),
        sha256=hashlib.sha256(checked.data).hexdigest(),
        storage_key=key, uploaded_by=actor.username,
    )  # fmt: skip
    session.add(material)
    session.flush()
    return material


_NEW_FILES = "huiju_new_files"


def _remove_on_rollback(session: Session, path: Path) -> None:
    """Files written in a transaction go when it rolls back, and stay once it commits."""
    if _NEW_FILES not in session.info:
        session.info[_NEW_FILES] = []

        def committed(_session: Session) -> None:
            session.info[_NEW_FILES] = []

        def rolled_back(_session: Session) -> None:
            for written in session.info.get(_NEW_FILES, []):
                written.unlink(missing_ok=True)
            session.info[_NEW_FILES] = []

        sa_event.listen(session, "after_commit", committed)
        sa_event.listen(session, "after_rollback", rolled_back)
    session.info[_NEW_FILES].append(path)


def materials_of_case(session: Session, case_id: int) -> list[Material]:
    return list(session.scalars(select(Material).where(Material.case_id == case_id).order_by(Material.id)))


def materials_of_draft(session: Session, draft_id: int) -> list[Material]:
    return list(session.scalars(select(Material).where(Material.draft_id == draft_id).order_by(Material.id)))


def pending_of_case(session: Session, case_id: int, username: str) -> list[Material]:
    """The files a resident uploaded toward an answer to a 补正 that is not sent yet."""
    return list(
        session.scalars(
            select(Material)
            .where(Material.pending_case_id == case_id, Material.uploaded_by == username)
            .order_by(Material.id)
        )
    )


def sweep_expired_pending(session: Session, uploads: UploadStore) -> list[Path]:
    """Forget the files kept for 补正 answers that can no longer be sent: their case stopped waiting
    for material (the time to supplement ran out, the case was withdrawn, closed or concluded).

    The rows go in the caller's transaction; the files are removed once it commits (a rollback
    leaves both). Returns the paths that will be removed.
    """
    stale = session.scalars(
        select(Material)
        .join(Case, Case.id == Material.pending_case_id)
        .where(Material.pending_case_id.is_not(None), Case.status != CaseStatus.AWAITING_SUPPLEMENT)
    ).all()
    paths = [uploads.path_of(m.storage_key) for m in stale]
    for material in stale:
        session.delete(material)
    if paths:

        def committed(_session: Session) -> None:
            for path in paths:
                path.unlink(missing_ok=True)

        sa_event.listen(session, "after_commit", committed, once=True)
    return paths


def open_material(session: Session, uploads: UploadStore, actor: Actor, material_id: int) -> tuple[Material, bytes]:
    """A material the actor may see (its case visible to them, or their own draft), with its bytes.

    Any other material answers 'not found', like one that does not exist.
    """
    material = session.get(Material, material_id)
    if material is None:
        raise NotFoundError(_("no such file"))
    if material.case_id is not None and material.case is not None:
        get_case(session, actor, material.case.number)
    elif material.pending_case_id is not None:  # a 补正 file not sent yet: its uploader's only
        if material.uploaded_by != actor.username:
            raise NotFoundError(_("no such file"))
    elif material.draft_id is not None:
        draft = session.get(Draft, material.draft_id)
        owner = session.get(User, draft.owner_id) if draft is not None else None
        if owner is None or owner.username != actor.username:
            raise NotFoundError(_("no such file"))
    else:
        raise NotFoundError(_("no such file"))
    data = uploads.path_of(material.storage_key).read_bytes()
    if hashlib.sha256(data).hexdigest() != material.sha256:
        raise NotFoundError(_("the stored file no longer matches its hash"))
    return material, data
