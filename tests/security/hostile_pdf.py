"""Hostile PDFs written byte by byte (ISO 32000-1), for what pikepdf itself would not write: a catalog
and its JavaScript action packed in an object stream under an ASCIIHex or LZW filter (7.5.7), found
only through a cross-reference stream (7.5.8)."""

from __future__ import annotations

import struct

ACTION = b"<< /Type /Action /S /JavaScript /JS (app.alert\\(1\\)) >>"


def lzw(data: bytes) -> bytes:
    """LZWDecode's encoding (7.4.4, EarlyChange 1): 9-bit codes to start, 256 clears, 257 ends."""
    table = {bytes([i]): i for i in range(256)}
    next_code, width, bits, count = 258, 9, 0, 0
    out = bytearray()

    def put(code: int) -> None:
        nonlocal bits, count
        bits = (bits << width) | code
        count += width
        while count >= 8:
            count -= 8
            out.append((bits >> count) & 0xFF)

    put(256)
    word = b""
    for byte in data:
        grown = word + bytes([byte])
        if grown in table:
            word = grown
            continue
        put(table[word])
        table[grown] = next_code
        next_code += 1
        if next_code + 1 >= 1 << width and width < 12:
            width += 1
        word = bytes([byte])
    if word:
        put(table[word])
    put(257)
    if count:
        out.append((bits << (8 - count)) & 0xFF)
    return bytes(out)


def packed_action(filter_name: str, *, catalog_action: bool = True) -> bytes:
    """A one-page PDF whose catalog (with ``/OpenAction``) and JavaScript action live in an object
    stream encoded with ``filter_name`` (``ASCIIHexDecode`` or ``LZWDecode``)."""
    catalog = b"<< /Type /Catalog /Pages 2 0 R" + (b" /OpenAction 5 0 R" if catalog_action else b"") + b" >>"
    objects = [(1, catalog), (5, ACTION)]
    body, offsets = b"", []
    for number, text in objects:
        offsets.append(f"{number} {len(body)}")
        body += text + b"\n"
    header = (" ".join(offsets) + "\n").encode()
    plain = header + body
    encoded = plain.hex().encode() + b">" if filter_name == "ASCIIHexDecode" else lzw(plain)
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    where: dict[int, int] = {}

    def add(number: int, text: bytes) -> None:
        where[number] = len(out)
        out.extend(f"{number} 0 obj\n".encode() + text + b"\nendobj\n")

    add(2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
    add(3, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 298 420] /Contents 4 0 R /Resources << >> >>")
    add(4, b"<< /Length 0 >>\nstream\n\nendstream")
    add(6, f"<< /Type /ObjStm /N {len(objects)} /First {len(header)} /Filter /{filter_name} /Length {len(encoded)} >>"
        .encode() + b"\nstream\n" + encoded + b"\nendstream")  # fmt: skip
    xref_at = len(out)
    rows = [struct.pack(">BIH", 0, 0, 65535)]
    for number in range(1, 8):
        if number in (1, 5):
            rows.append(struct.pack(">BIH", 2, 6, 0 if number == 1 else 1))  # in object stream 6
        elif number == 7:
            rows.append(struct.pack(">BIH", 1, xref_at, 0))
        else:
            rows.append(struct.pack(">BIH", 1, where[number], 0))
    table = b"".join(rows)
    out.extend(
        f"7 0 obj\n<< /Type /XRef /Size 8 /W [1 4 2] /Root 1 0 R /Length {len(table)} >>\nstream\n".encode()
        + table + b"\nendstream\nendobj\n" + f"startxref\n{xref_at}\n%%EOF\n".encode()
    )  # fmt: skip
    return bytes(out)
