"""Real files for upload tests, made here by the libraries that read them (Pillow, pikepdf): a PDF of
one blank page, small pictures, and the hostile variants the upload checks must refuse."""

from __future__ import annotations

import io
import struct
import zlib

import pikepdf
from PIL import Image


def pdf(*, objects: bool = False) -> bytes:
    """One blank A6 page, uncompressed so that tests can edit its bytes (``/Type /Catalog`` ...)."""
    document = pikepdf.new()
    document.add_blank_page(page_size=(298, 420))
    out = io.BytesIO()
    mode = pikepdf.ObjectStreamMode.generate if objects else pikepdf.ObjectStreamMode.disable
    document.save(out, static_id=True, object_stream_mode=mode, compress_streams=False)
    return out.getvalue()


def picture(kind: str = "PNG", size: tuple[int, int] = (8, 8), **save: object) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    out = io.BytesIO()
    image.save(out, kind, **save)
    return out.getvalue()


def jpeg_with_gps() -> bytes:
    """A photo as a phone writes it: EXIF with the camera, the orientation and a GPS position."""
    exif = Image.Exif()
    exif[0x010F] = "HuijuPhone"  # Make
    exif[0x0112] = 6  # Orientation: rotated 90° clockwise
    exif[0x8825] = {1: "N", 2: (39.0, 59.0, 27.0), 3: "E", 4: (116.0, 28.0, 12.0)}  # GPSInfo
    return picture("JPEG", (16, 8), exif=exif.tobytes(), quality=90)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A few hundred bytes that declare a picture of ``width`` x ``height`` pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = zlib.compressobj(9)
    data = rows.compress(bytes(width + 1) * 64) + rows.flush()
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


PDF = pdf()
PNG = picture("PNG")
JPEG = picture("JPEG", quality=85)
