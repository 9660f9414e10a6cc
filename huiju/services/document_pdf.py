"""The layout of a written document (文书) as an A4 PDF with Chinese text (reportlab).

The layout follows the shape of Chinese official documents (GB/T 9704 in spirit): the issuing
office and the title centred, the document number (文号) under it, the addressee, the body in
numbered paragraphs, and the office and the date at the foot, right-aligned. The text is set in
WenQuanYi Micro Hei (Debian's fonts-wqy-microhei), embedded as a subset so that any reader shows
it; where that font is missing, reportlab's STSong-Light (a CID font readers supply) stands in.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

WQY = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
FONT = "HuijuSans"
FALLBACK_FONT = "STSong-Light"
_lock = threading.Lock()
_font: list[str] = []


def font_name() -> str:
    """Register the Chinese font once per process and return its name."""
    with _lock:
        if not _font:
            if WQY.exists():
                pdfmetrics.registerFont(TTFont(FONT, str(WQY), subfontIndex=0))
                _font.append(FONT)
            else:
                pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT))
                _font.append(FALLBACK_FONT)
        return _font[0]


@dataclass(frozen=True)
class Layout:
    """What goes on the page, already in words."""

    issuer: str  # the issuing office, as the heading names it
    title: str  # 受理通知书 ...
    number: str  # 文号
    addressee: str  # 张秀英：
    paragraphs: list[str]
    items: list[str] = field(default_factory=list)  # a numbered list after the first paragraph
    closing: list[str] = field(default_factory=list)  # paragraphs after the list
    date: str = ""  # 2026年12月6日
    footer: list[str] = field(default_factory=list)  # contact lines, small
    subject: str = ""  # the PDF's metadata subject


def render(layout: Layout) -> bytes:
    font = font_name()
    body = ParagraphStyle("body", fontName=font, fontSize=12, leading=21, alignment=TA_JUSTIFY, firstLineIndent=24)
    styles = {
        "issuer": ParagraphStyle("issuer", fontName=font, fontSize=16, leading=24, alignment=TA_CENTER),
        "title": ParagraphStyle("title", fontName=font, fontSize=22, leading=32, alignment=TA_CENTER, spaceBefore=6),
        "number": ParagraphStyle("number", fontName=font, fontSize=12, leading=20, alignment=TA_CENTER),
        "addressee": ParagraphStyle("addressee", fontName=font, fontSize=12, leading=21),
        "item": ParagraphStyle("item", parent=body, firstLineIndent=0, leftIndent=36),
        "sign": ParagraphStyle("sign", fontName=font, fontSize=12, leading=21, alignment=TA_RIGHT),
        "footer": ParagraphStyle("footer", fontName=font, fontSize=9, leading=14, textColor="#333333"),
    }
    story = [
        Paragraph(escape(layout.issuer), styles["issuer"]),
        Paragraph(escape(layout.title), styles["title"]),
        Paragraph(escape(layout.number), styles["number"]),
        Spacer(1, 8 * mm),
        Paragraph(escape(layout.addressee), styles["addressee"]),
    ]
    story += [Paragraph(escape(text), body) for text in layout.paragraphs[:1]]
    story += [Paragraph(escape(f"{i}. {text}"), styles["item"]) for i, text in enumerate(layout.items, 1)]
    story += [Paragraph(escape(text), body) for text in layout.paragraphs[1:] + layout.closing]
    story += [Spacer(1, 14 * mm), Paragraph(escape(layout.issuer), styles["sign"])]
    story += [Paragraph(escape(layout.date), styles["sign"]), Spacer(1, 12 * mm)]
    story += [Paragraph(escape(line), styles["footer"]) for line in layout.footer]
    out = BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=A4, leftMargin=28 * mm, rightMargin=26 * mm, topMargin=30 * mm, bottomMargin=25 * mm,
        title=f"{layout.title} {layout.number}", author=layout.issuer, subject=layout.subject, creator="Huiju",
    )  # fmt: skip
    doc.build(story)
    return out.getvalue()
