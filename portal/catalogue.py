"""How the item catalog (事项目录) is presented to residents: the themes, in the order shown.

What a resident reads about each item (summary, who may apply, steps, materials, time limits)
is kept on the item rows (:class:`huiju.models.Item`), in Chinese and English; only the theme
names are worded here, as message ids of the portal's catalogue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from huiju.models import Theme as ItemTheme
from portal.i18n import N_


@dataclass(frozen=True)
class Theme:
    code: str
    name: str  # message id


#: The themes residents browse by, in the order they are shown.
THEMES: tuple[Theme, ...] = (
    Theme(ItemTheme.ELDERLY_CARE.value, N_("Elderly care")),
    Theme(ItemTheme.SOCIAL_ASSISTANCE.value, N_("Social assistance")),
    Theme(ItemTheme.CERTIFICATES.value, N_("Certificates")),
    Theme(ItemTheme.EMPLOYMENT.value, N_("Employment")),
    Theme(ItemTheme.FAMILY.value, N_("Family")),
    Theme(ItemTheme.SERVICE_REQUESTS.value, N_("Requests and complaints")),
    Theme(ItemTheme.OTHER.value, N_("Other services")),
)


def in_locale(text: Mapping[str, str] | None, locale: str) -> str:
    """The ``zh`` or ``en`` text of a {zh, en} pair; Chinese when the English is missing."""
    if not text:
        return ""
    return (text.get("en") if locale == "en" else None) or text.get("zh") or ""
