"""Searching the item catalogue (事项目录) as residents type: Chinese, English, full pinyin, or the
pinyin initials that Chinese phone keyboards teach everyone to type (养老补贴 → ``ylbt``).

An item matches when the query is found in its Chinese or English name, its summary, or its full
pinyin; or when the query's characters (Chinese characters, or pinyin initials) appear in the name in
order — "养老补贴" and "ylbt" both find 居家养老服务补贴. Whole matches rank before ones in order.
Pinyin comes from pypinyin (its dictionary is loaded on the first search, not at start-up).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from huiju.models import Item

#: Longer queries are cut: nobody types a paragraph into the catalogue's search box.
MAX_QUERY = 40
_SPACES = re.compile(r"[\s·・,，、/]+")


@dataclass(frozen=True)
class Keys:
    """What an item is found by."""

    text: str  # the names and summary, lower case, spaces removed
    name: str  # the Chinese name
    pinyin: str  # the name's full pinyin, no tones, no spaces
    initials: str  # the first letter of each character's pinyin


def _fold(text: str) -> str:
    return _SPACES.sub("", unicodedata.normalize("NFKC", text).lower())


@lru_cache(maxsize=1024)
def _pinyin(name: str) -> tuple[str, str]:
    from pypinyin import Style, lazy_pinyin

    syllables = [s for s in lazy_pinyin(name, errors="ignore") if s.strip()]
    initials = [s for s in lazy_pinyin(name, style=Style.FIRST_LETTER, errors="ignore") if s.strip()]
    return _fold("".join(syllables)), _fold("".join(initials))


def keys_of(item: Item) -> Keys:
    summary = " ".join((item.summary or {}).values()) if isinstance(item.summary, dict) else ""
    pinyin, initials = _pinyin(item.name)
    return Keys(_fold(f"{item.name} {item.name_en or ''} {summary}"), _fold(item.name), pinyin, initials)


def _in_order(query: str, text: str) -> bool:
    """Every character of ``query`` appears in ``text``, in this order (not necessarily together)."""
    position = 0
    for ch in query:
        position = text.find(ch, position) + 1
        if position == 0:
            return False
    return True


def rank(item: Item, query: str) -> int | None:
    """0 for a whole match, 1 for characters or initials in order, None when the item does not match."""
    q = _fold(query)[:MAX_QUERY]
    if not q:
        return 0
    keys = keys_of(item)
    if q in keys.text or (q.isascii() and (q in keys.pinyin or keys.initials.startswith(q))):
        return 0
    if len(q) >= 2 and (_in_order(q, keys.name) or (q.isascii() and q.isalpha() and _in_order(q, keys.initials))):
        return 1
    return None


def search(items: list[Item], query: str) -> list[Item]:
    """The items that match ``query``, best first (catalogue order within a rank)."""
    ranked = [(r, i, item) for i, item in enumerate(items) if (r := rank(item, query)) is not None]
    return [item for _r, _i, item in sorted(ranked, key=lambda t: (t[0], t[1]))]
