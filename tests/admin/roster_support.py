"""A roster file with good and bad rows, as a community office keeps it, and the exact report it gives."""

from __future__ import annotations

import io

from sqlalchemy import select

from huiju.models import Resident
from huiju.runtime import Runtime

NEW_1 = "110105195001010020"
NEW_2 = "110105196203150034"
BAD_CHECK_DIGIT = "110105197005200045"  # the right check digit is X
NEW_3 = "11010519800808005X"
HEADINGS = ["序号", "姓名", "身份证号码", "联系电话", "居住地址", "户号", "所属社区"]


def known_resident(runtime: Runtime) -> Resident:
    """A seeded resident of 望京西园社区 (from the citizen-information sandbox)."""
    with runtime.db.sessions() as session:
        return session.scalars(
            select(Resident).where(Resident.community.has(code="110105001001")).order_by(Resident.id)
        ).first()  # type: ignore[return-value]


def rows(runtime: Runtime) -> list[list[str]]:
    known = known_resident(runtime)
    return [
        ["1", "王建华", NEW_1, "139 1050 0001", "望京西园三区 301-2-501", "H0001", "望京西园社区"],  # row 2: added
        ["2", "李桂兰", NEW_2, "", "花家地北里 7-1-302", "H0002", "110105001002"],  # row 3: added, by community code
        ["3", "赵国强", BAD_CHECK_DIGIT, "13910500003", "", "", "望京西园社区"],  # row 4: check digit
        ["4", "钱秀英", NEW_3, "13910500004", "", "", "望京东园社区"],  # row 5: unknown community
        ["5", "王建华", NEW_1, "13910500001", "", "", "望京西园社区"],  # row 6: duplicate of row 2
        ["6", "孙丽", "110105198506120069", "1391050", "", "", "望京西园社区"],  # row 7: malformed phone
        [
            "7",
            known.name,
            known.id_number,
            known.phone or "",
            "望京西园一区 9-9-909",
            "H0007",
            "望京西园社区",
        ],  # updated
        ["8", "周冒名", "", "", "", "", "望京西园社区"],  # row 9: no ID number
        [],  # an empty line is skipped
    ]


def csv_bytes(runtime: Runtime, encoding: str = "utf-8-sig") -> bytes:
    out = io.StringIO()
    for row in [HEADINGS, *rows(runtime)]:
        out.write(",".join(row) + "\r\n")
    return out.getvalue().encode(encoding)


def xlsx_bytes(runtime: Runtime) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(HEADINGS)
    for row in rows(runtime):
        sheet.append([int(c) if c.isdigit() and len(c) == 11 else c for c in row])  # phones typed as numbers
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


#: Row number, reason codes: the refusals the file above gives, in row order.
REFUSED = [
    (4, ["check_digit"]),
    (5, ["community_unknown"]),
    (6, ["duplicate"]),
    (7, ["phone_malformed"]),
    (9, ["id_number"]),
]
