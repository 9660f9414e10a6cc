"""Codes that must never reach a person, and a scan of a browser page for them.

The list is built here, in the tests, from where the codes are defined — the model enums (community
services' included: order, payment, offer, provider, credit, complaint, settlement and link states,
categories, units), the adapter registry, the shipped BPMN processes (lanes, statuses, decisions,
outcomes), the item catalogue (material codes), the SMS platform's templates and the kinds of
timeline entries (an order's too) — not from :mod:`huiju.labels`, so that a code that was never given
words is caught too.

A page is read as a person meets it: the visible text, the text of the diagram (SVG), and the
attributes read aloud or shown on hover (``title``, ``aria-label``, ``alt``, ``placeholder``);
names and identifiers marked ``translate="no"`` (an account name, a message id) are not words and
are left out.
Codes written with ``_`` or ``.`` (``awaiting_supplement``, ``sms.send_sms``) or in capitals
(``CASE_REFUSED``) are never prose, so they fail a page in any language; single-word codes
(``intake``, ``approve``, ``sms``) are English words too, so they fail a Chinese page only, where no
English word belongs.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[2]
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[._-][A-Za-z0-9]+)*")
_BPMN_PROPERTY = re.compile(r'spiffworkflow:property name="(case_status|decisions|outcome)" value="([^"]+)"')
_BPMN_LANE = re.compile(r'<bpmn:lane id="[^"]*" name="([^"]+)"')
_BPMN_OPERATION = re.compile(r'serviceTaskOperator id="([^"]+)"')
_EVENT_KIND = re.compile(r'(?:\bkind=|TimelineEntry\()"([a-z][a-z_]+)"')
#: An order's timeline entry, ``event(order, "accepted" if accept else "declined", ...)``: its kinds.
_ORDER_EVENT = re.compile(r"\bevent\([\w.]*order, ([^,]+),")
_QUOTED = re.compile(r'"([a-z][a-z_]+)"')
#: Words that are names, not codes, even where a table lists them (the product's own name).
NOT_CODES = frozenset({"huiju"})


def _enum_values() -> set[str]:
    from exchange.models import MessageStatus
    from huiju.models import (
        CaseStatus,
        ComplaintStatus,
        CreditKind,
        ItemKind,
        LinkStatus,
        OfferOutcome,
        OrderStatus,
        OrgLevel,
        PaymentStatus,
        ProviderKind,
        ProviderStatus,
        ResponsibleLevel,
        Role,
        ServiceCategory,
        ServiceUnit,
        SettlementStatus,
        Theme,
        TimeUnit,
    )
    from huiju.services.o2o.family import RELATIONS
    from workflows_bpmn.models import HumanTaskStatus, InstanceStatus

    found: set[str] = set()
    for enum in (CaseStatus, Role, ItemKind, Theme, ResponsibleLevel, TimeUnit, OrgLevel, MessageStatus,
                 HumanTaskStatus, InstanceStatus, OrderStatus, PaymentStatus, OfferOutcome, ComplaintStatus,
                 ServiceCategory, ServiceUnit, ProviderKind, ProviderStatus, CreditKind, SettlementStatus,
                 LinkStatus):  # fmt: skip
        found |= {str(member.value) for member in enum}
    # A family link's relation to the parent, and how the parent consented (FamilyLink.method).
    return found | set(RELATIONS) | {"sms_code", "service_centre"}


def _registry() -> set[str]:
    from adapters.registry import OPERATIONS

    found = set(OPERATIONS)
    found |= {spec.system for spec in OPERATIONS.values()}
    found |= {name.split(".")[0] for name in OPERATIONS}
    return found


def _processes() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "workflows_bpmn" / "processes").glob("*.bpmn"):
        text = path.read_text(encoding="utf-8")
        for _name, value in _BPMN_PROPERTY.findall(text):
            found |= {v.strip() for v in value.split(",") if v.strip()}
        found |= set(_BPMN_LANE.findall(text)) | set(_BPMN_OPERATION.findall(text))
    return found


def _materials() -> set[str]:
    items = json.loads((ROOT / "huiju" / "data" / "items.json").read_text(encoding="utf-8"))
    found = {str(m["code"]) for item in items for m in item.get("required_materials", [])}
    return found | {"consent_form", "supplement_1", "supplement_2", "supplement_3"}


def _event_kinds() -> set[str]:
    from huiju.labels import TIMELINE

    found = set(TIMELINE)
    for folder in ("huiju/services", "workflows_bpmn", "exchange"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            found |= set(_EVENT_KIND.findall(text))
            for kinds in _ORDER_EVENT.findall(text):
                found |= set(_QUOTED.findall(kinds))
    return found


def _sms_templates() -> set[str]:
    from adapters.sandbox.sms_templates import TEMPLATES

    return set(TEMPLATES)


@lru_cache(maxsize=1)
def forbidden_codes() -> frozenset[str]:
    """Every code of the domain: statuses, outcomes, decisions, event kinds, roles and lanes,
    systems and operations, message states, material codes, SMS templates."""
    codes = _enum_values() | _registry() | _processes() | _materials() | _event_kinds() | _sms_templates()
    codes |= {
        "in",
        "out",
        "request",
        "reply",
        "callback",
        "refusal",
        "sent",
        "transient_failure",
        "permanent_failure",
        "outbox",
        "accepted",
        "refused",
    }  # message log directions and results
    return frozenset(c for c in codes if c and c not in NOT_CODES)


def _compound(code: str) -> bool:
    return "_" in code or "." in code or code.isupper()


def codes_in(text: str, lang: str) -> list[str]:
    """The codes found in ``text`` (a Chinese page: every code; an English page: compound ones)."""
    codes = forbidden_codes()
    found = []
    for token in _TOKEN.findall(text):
        if token in codes and (lang.startswith("zh") or _compound(token)):
            found.append(token)
    return sorted(set(found))


_PAGE_TEXT = """() => {
  // translate="no" (HTML) marks what is a name or identifier rather than words: an account name,
  // a message id, an address. It is left out, everything else is read as shown.
  const names = [...document.querySelectorAll('[translate=no]')];
  const shown = names.map(el => el.style.display);
  names.forEach(el => { el.style.display = 'none'; });
  const parts = [document.body.innerText];
  names.forEach((el, i) => { el.style.display = shown[i]; });
  for (const t of document.querySelectorAll('svg text')) parts.push(t.textContent);
  for (const el of document.querySelectorAll('[title],[aria-label],[alt],[placeholder]')) {
    for (const a of ['title', 'aria-label', 'alt', 'placeholder']) {
      if (el.hasAttribute(a)) parts.push(el.getAttribute(a));
    }
  }
  parts.push(document.title);
  return parts.join('\\n');
}"""


def page_text(page: Any) -> str:
    page.wait_for_load_state()  # a navigation just started has no body yet
    return str(page.evaluate(_PAGE_TEXT))


def check_no_codes(page: Any, what: str, lang: str) -> None:
    """Fail when the page shows a code to a person, with each code and the line it stands in."""
    text = page_text(page)
    assert len(text.strip()) > 20, f"{what} ({page.url}) shows no text to check"
    found = codes_in(text, lang)
    if found:
        lines = [line.strip() for line in text.splitlines() if any(re.search(rf"\b{re.escape(c)}\b", line)
                                                                    for c in found)]  # fmt: skip
        shown = "\n  ".join(lines[:8])
        raise AssertionError(f"codes shown on {what} ({page.url}): {', '.join(found)}\n  {shown}")


def check_page(page: Any, what: str, lang: str) -> None:
    """The checks every page of a journey passes: no code shown, and no WCAG 2.1 AA violation."""
    from tests.support.axe import audit

    check_no_codes(page, what, lang)
    audit(page, what)
