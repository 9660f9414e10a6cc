"""What is inside an uploaded PDF or picture, read by real parsers (pikepdf, Pillow), never by pattern.

PDF (ISO 32000-1). The file is opened with pikepdf (qpdf), which decodes every filter (Flate, LZW,
ASCIIHex, ASCII85, run-length) and every object stream. It is refused when it is encrypted (its
content cannot be inspected), and when anything in its object graph can run or carry code: a
JavaScript action or name tree (12.6.4.16), a launch, import, submit or remote go-to action (12.6.4),
additional actions triggered by events (``/AA``, 12.6.3), embedded or attached files (7.11.4), rich
media (Adobe extension level 3) or an XFA form. The graph is walked from the trailer, direct objects
included, and so is every object of the cross-reference table; the file is then read a second time
as a reader that repairs it would (the cross-reference table ignored, every object in the bytes
found), so that an object hidden outside the table is seen too. Object streams are also searched
after decoding, for a reader that would expand one qpdf cannot.

Pictures (JPEG, PNG). Pillow decodes the whole picture, after checking its declared size against a
pixel limit (a small file can declare a huge picture: a decompression bomb). What is stored is the
same image data without its metadata: EXIF (with GPS position and camera serial), XMP, IPTC,
comments and text chunks are left out, and so is anything after the end of the image; only what is
needed to show the picture right is kept (JFIF, the colour profile, Adobe's colour transform, the
orientation). The image data is copied byte for byte, never re-encoded: no quality is lost, and a
picture without metadata is stored exactly as sent.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pikepdf
from PIL import Image, UnidentifiedImageError

from huiju.errors import InputError
from huiju.i18n import _

#: Keys whose mere presence means code, automatic actions, or files inside the document.
PDF_ACTIVE_KEYS = frozenset(
    {"/JS", "/JavaScript", "/AA", "/EmbeddedFiles", "/EF", "/RichMedia", "/RichMediaContent",
     "/RichMediaSettings", "/XFA"}
)  # fmt: skip
#: Action types (``/S``) that run code, start programs, send data or open other files.
PDF_ACTIVE_ACTIONS = frozenset(
    {"/JavaScript", "/Launch", "/ImportData", "/SubmitForm", "/GoToR", "/GoToE", "/RichMediaExecute"}
)
#: Object types that are files or code (``/Type``).
PDF_ACTIVE_TYPES = frozenset({"/EmbeddedFile", "/RichMediaExecute"})
#: How many objects one PDF may hold before it is refused as too complex to inspect.
PDF_MAX_OBJECTS = 200_000
#: Decoded bytes of object streams searched per file (a compression bomb is refused).
PDF_MAX_DECODED = 64 * 1024 * 1024
_NAME = re.compile(rb"/[^\s/<>\[\]()%{}]+")
_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")


class PdfRefused(Exception):
    """Why a PDF is refused, in a few words for the message (internal to this module)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _refused_pdf(name: str, reason: str) -> InputError:
    messages = {
        "encrypted": _("the PDF '{name}' is encrypted or protected by a password; upload it without protection",
                       name=name),
        "unreadable": _("the file '{name}' is not a readable PDF", name=name),
        "complex": _("the PDF '{name}' is too complex to be checked", name=name),
        "active": _("the PDF '{name}' carries a script or an automatic action", name=name),
        "files": _("the PDF '{name}' carries embedded files; upload each document on its own", name=name),
    }  # fmt: skip
    return InputError(messages[reason], field="file")


def check_pdf(name: str, data: bytes) -> None:
    """InputError unless ``data`` is a readable, unencrypted PDF with nothing active in it."""
    try:
        _inspect_pdf(data, repair=False)
        _inspect_pdf(data, repair=True)
    except PdfRefused as refused:
        raise _refused_pdf(name, refused.reason) from None


def _open_pdf(data: bytes, *, repair: bool) -> pikepdf.Pdf:
    if repair:
        # Hide the pointer to the cross-reference table: qpdf then rebuilds it from every object it
        # finds in the bytes, as a lenient reader does with a damaged file.
        at = data.rfind(b"startxref")
        if at < 0:
            return _open_pdf(data, repair=False)
        data = data[:at] + b"startxrex" + data[at + 9 :]
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError:
        raise PdfRefused("encrypted") from None
    except (pikepdf.PdfError, RuntimeError, ValueError):
        raise PdfRefused("unreadable") from None
    if pdf.is_encrypted:
        pdf.close()
        raise PdfRefused("encrypted")
    return pdf


def _inspect_pdf(data: bytes, *, repair: bool) -> None:
    with _open_pdf(data, repair=repair) as pdf:
        try:
            roots: list[Any] = [pdf.trailer]
            for count, obj in enumerate(pdf.objects):
                if count > PDF_MAX_OBJECTS:
                    raise PdfRefused("complex")
                roots.append(obj)
            _walk(roots)
        except (pikepdf.PdfError, RuntimeError, ValueError):
            raise PdfRefused("unreadable") from None


def _walk(roots: list[Any]) -> None:
    """Every dictionary, array and stream reachable from ``roots``, each indirect object once."""
    seen: set[tuple[int, int]] = set()
    stack = list(roots)
    visits = 0
    decoded = 0
    while stack:
        obj = stack.pop()
        visits += 1
        if visits > 20 * PDF_MAX_OBJECTS:
            raise PdfRefused("complex")
        if isinstance(obj, pikepdf.Dictionary | pikepdf.Array | pikepdf.Stream) and obj.is_indirect:
            if obj.objgen in seen:
                continue
            seen.add(obj.objgen)
        if isinstance(obj, pikepdf.Array):
            stack.extend(obj)
            continue
        if not isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
            continue
        _check_dictionary(obj)
        if isinstance(obj, pikepdf.Stream) and obj.get("/Type") == pikepdf.Name.ObjStm:
            decoded += _check_object_stream(obj, PDF_MAX_DECODED - decoded)
        stack.extend(obj.values())


def _check_dictionary(obj: Any) -> None:
    keys = set(obj.keys())
    if keys & {"/EmbeddedFiles", "/EF"}:
        raise PdfRefused("files")
    if keys & PDF_ACTIVE_KEYS:
        raise PdfRefused("active")
    if str(obj.get("/S", "")) in PDF_ACTIVE_ACTIONS:
        raise PdfRefused("active")
    kind = str(obj.get("/Type", ""))
    if kind == "/EmbeddedFile":
        raise PdfRefused("files")
    if kind in PDF_ACTIVE_TYPES:
        raise PdfRefused("active")


def _check_object_stream(stream: Any, budget: int) -> int:
    """The names inside an object stream, decoded by qpdf whatever its filters; the bytes decoded."""
    if budget <= 0:
        raise PdfRefused("complex")
    try:
        content = bytes(stream.read_bytes())
    except pikepdf.PdfError:
        raise PdfRefused("unreadable") from None
    if len(content) > budget:
        raise PdfRefused("complex")
    names = {_NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), n).decode("latin-1")
             for n in _NAME.findall(content)}  # fmt: skip
    if names & {"/EmbeddedFiles", "/EF", "/EmbeddedFile"}:
        raise PdfRefused("files")
    if names & (PDF_ACTIVE_KEYS | PDF_ACTIVE_ACTIONS | PDF_ACTIVE_TYPES):
        raise PdfRefused("active")
    return len(content)


# -- pictures ---------------------------------------------------------------------------------------

PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}
EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class Picture:
    """A checked picture: its size in pixels and the bytes to store (metadata left out)."""

    width: int
    height: int
    data: bytes


def check_picture(name: str, content_type: str, data: bytes, max_pixels: int) -> Picture:
    """Decode the whole picture (InputError if it cannot be, or is larger than ``max_pixels``), then
    return its bytes without metadata."""
    damaged = InputError(_("the picture '{name}' is damaged or not a real {kind} file", name=name,
                           kind=PILLOW_FORMATS[content_type]), field="file")  # fmt: skip
    bomb = InputError(_("the picture '{name}' is too large: at most {limit} million pixels", name=name,
                        limit=round(max_pixels / 1_000_000)), field="file")  # fmt: skip
    with warnings.catch_warnings():
        # Pillow warns (and past twice its own limit refuses) before decoding a huge picture.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            formats = [PILLOW_FORMATS[content_type]]
            with Image.open(io.BytesIO(data), formats=formats) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise bomb
                image.verify()  # the structure: chunk checksums, a truncated file
            with Image.open(io.BytesIO(data), formats=formats) as image:
                image.load()  # every pixel decoded
                orientation = image.getexif().get(EXIF_ORIENTATION) if content_type == "image/jpeg" else None
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise bomb from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error, EOFError):
            raise damaged from None
    try:
        if content_type == "image/jpeg":
            stripped = strip_jpeg(data, orientation if isinstance(orientation, int) else None)
        else:
            stripped = strip_png(data)
    except ValueError:
        raise damaged from None
    return Picture(width, height, stripped)


#: JPEG APPn segments kept: JFIF (APP0), the ICC colour profile (APP2), Adobe's colour transform (APP14).
_JPEG_KEEP_APP = {0xE0: (b"JFIF\0", b"JFXX\0"), 0xE2: (b"ICC_PROFILE\0",), 0xEE: (b"Adobe",)}
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def _jpeg_segments(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(marker, whole segment bytes) from SOI to EOI (ITU-T T.81, B.1); entropy-coded data is
    attached to the SOS segment it follows. ValueError for a malformed stream."""
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("no SOI")
    yield 0xD8, data[:2]
    pos = 2
    while True:
        if pos >= len(data) or data[pos] != 0xFF:
            raise ValueError("marker expected")
        while pos < len(data) and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= len(data):
            raise ValueError("truncated")
        marker = data[pos]
        start = pos - 1
        pos += 1
        if marker == 0xD9:
            yield marker, b"\xff\xd9"
            return
        if marker in _JPEG_STANDALONE:
            yield marker, data[start:pos]
            continue
        if pos + 2 > len(data):
            raise ValueError("truncated")
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2:
            raise ValueError("bad length")
        pos += length
        if pos > len(data):
            raise ValueError("truncated")
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next real marker
            while True:
                nxt = data.find(b"\xff", pos)
                if nxt < 0 or nxt + 1 >= len(data):
                    raise ValueError("truncated scan")
                follower = data[nxt + 1]
                if follower == 0x00 or 0xD0 <= follower <= 0xD7 or follower == 0xFF:
                    pos = nxt + 1 if follower == 0xFF else nxt + 2
                    continue
                pos = nxt
                break
        yield marker, data[start:pos]


def _orientation_segment(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    payload = exif.tobytes()
    if not payload.startswith(b"Exif\0\0"):
        payload = b"Exif\0\0" + payload
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def strip_jpeg(data: bytes, orientation: int | None = None) -> bytes:
    """The JPEG without EXIF/XMP/IPTC/comments and without anything after its end; the orientation
    alone is kept (a photo taken sideways still shows upright)."""
    out = bytearray()
    for marker, segment in _jpeg_segments(data):
        if 0xE0 <= marker <= 0xEF or marker == 0xFE:
            kept = _JPEG_KEEP_APP.get(marker, ())
            if not any(segment[4:].startswith(prefix) for prefix in kept):
                continue
        out += segment
        if marker == 0xD8 and orientation not in (None, 1) and 1 <= int(orientation or 0) <= 8:
            out += _orientation_segment(int(orientation or 1))
    return bytes(out)


#: PNG chunks kept (ISO/IEC 15948 and the APNG extension): the image, its colours and its frames.
_PNG_KEEP = {
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"cICP",
    b"mDCv", b"cLLi", b"bKGD", b"pHYs", b"acTL", b"fcTL", b"fdAT",
}  # fmt: skip
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def strip_png(data: bytes) -> bytes:
    """The PNG without text, EXIF and time chunks, nor anything after IEND."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("no PNG signature")
    out = bytearray(PNG_SIGNATURE)
    pos = len(PNG_SIGNATURE)
    while True:
        if pos + 8 > len(data):
            raise ValueError("truncated")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if end > len(data):
            raise ValueError("truncated")
        if kind in _PNG_KEEP:
            out += data[pos:end]
        pos = end
        if kind == b"IEND":
            return bytes(out)
