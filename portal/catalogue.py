"""How the item catalog (事项目录) is presented to residents: themes, who may apply, the steps.

The item rows (name, materials, time limits) come from :mod:`huiju.models.items`; what a resident
also needs to read before applying, in plain words, is kept here per item code. The texts are
message ids of the portal's catalogue, translated where they are shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal.i18n import N_


@dataclass(frozen=True)
class Theme:
    code: str
    name: str  # message id


@dataclass(frozen=True)
class ItemGuide:
    theme: str
    summary: str
    eligibility: tuple[str, ...]
    steps: tuple[str, ...]


#: The themes residents browse by, in the order they are shown.
THEMES: tuple[Theme, ...] = (
    Theme("elderly_care", N_("Elderly care")),
    Theme("social_assistance", N_("Social assistance")),
    Theme("certificates", N_("Certificates")),
    Theme("employment", N_("Employment")),
    Theme("family", N_("Family")),
    Theme("other", N_("Other services")),
)
OTHER_THEME = "other"

#: The rules follow the subsidy tier decision table (elderly_care_subsidy_tier.dmn).
GUIDES: dict[str, ItemGuide] = {
    "elderly-care-subsidy": ItemGuide(
        theme="elderly_care",
        summary=N_("A monthly subsidy for home-based elderly care services, paid to older residents."),
        eligibility=(
            N_("Residents aged 60 or over who receive subsistence allowance (低保): 600 yuan a month."),
            N_("Residents aged 60 or over from a low-income family: 400 yuan a month, 600 if severely disabled."),
            N_("Residents aged 60 or over from an ordinary family who are severely disabled: 400 yuan a month."),
            N_("Residents aged 80 or over from an ordinary family: 200 yuan a month."),
        ),
        steps=(
            N_("Apply online: tell us your family income and health."),
            N_("Your identity and household registration are checked automatically."),
            N_("The community officer accepts your application, or tells you which material is missing."),
            N_("The street office reviews it."),
            N_("The result is reported to the district's approval platform."),
            N_("You receive the result by SMS; the subsidy is paid every month."),
        ),
    ),
}


def guide_for(item_code: str) -> ItemGuide | None:
    return GUIDES.get(item_code)


def theme_of(item_code: str) -> str:
    guide = GUIDES.get(item_code)
    return guide.theme if guide else OTHER_THEME
