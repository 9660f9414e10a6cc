"""Money in fen (分): integers all the way, shown as yuan (元) only when a person reads it."""

from __future__ import annotations

import re

from huiju.errors import InputError
from huiju.i18n import _


def yuan(fen: int) -> str:
    """Fen as yuan for a person to read (¥12.50), computed in integers, never through a float."""
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100}.{abs(fen) % 100:02d}"


def parse_fen(text: str) -> int:
    """A price typed in yuan (``12``, ``12.5``, ``12.50``) as fen; InputError for anything else."""
    match = re.fullmatch(r"\s*(\d{1,7})(?:\.(\d{1,2}))?\s*", text or "")
    if not match:
        raise InputError(_("'{value}' is not an amount in yuan such as 25 or 25.50", value=text), field="price")
    whole, cents = match.group(1), (match.group(2) or "").ljust(2, "0")
    return int(whole) * 100 + int(cents)
