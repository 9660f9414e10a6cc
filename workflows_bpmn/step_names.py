"""Steps in both languages: a BPMN file names its steps in Chinese (``name``) and, as a SpiffWorkflow
property, in English (``name_en``)::

    <bpmn:userTask id="intake" name="社区受理">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="name_en" value="Community intake"/>

Human tasks and timeline entries keep the Chinese name they were given; pages in English show the
English name the deployed definitions give it (the newest deployment wins where two differ), and
the Chinese name where none does. Each deployed definition's names are read once; the whole is kept
between requests until a deployment changes it (:mod:`huiju.reference`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju import reference
from huiju.errors import DeployError
from huiju.i18n import normalize
from workflows_bpmn.models import DefinitionKind, ProcessDefinition
from workflows_bpmn.validation import BPMN_NS, SPIFF_NS, parse_xml

#: The SpiffWorkflow property that holds a step's English name.
NAME_EN = "name_en"

_PROPERTIES = f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property"


@dataclass(frozen=True)
class StepNames:
    """The English names of the steps of every deployed process, by Chinese name."""

    english: Mapping[str, str] = field(default_factory=dict)

    def of(self, name: str | None, locale: str | None) -> str:
        """The step's name as a page in ``locale`` shows it."""
        if not name:
            return ""
        return self.english.get(name, name) if normalize(locale) == "en" else name


def own_english_name(element: etree._Element) -> str | None:
    """The ``name_en`` property of this element itself (not of the steps a subprocess holds)."""
    for prop in element.iterfind(_PROPERTIES):
        if prop.get("name") == NAME_EN:
            value = (prop.get("value") or "").strip()
            return value or None
    return None


def english_names(sources: Mapping[str, str]) -> dict[str, str]:
    """Chinese name → English name of every step in these BPMN sources that has both."""
    found: dict[str, str] = {}
    for file_name, text in sources.items():
        if not file_name.lower().endswith(".bpmn"):
            continue
        try:
            root = parse_xml(file_name, text)
        except DeployError:
            continue  # checked when it was deployed; a source that no longer reads names nothing
        for element in root.iter(f"{{{BPMN_NS}}}*"):
            if etree.QName(element).localname == "sequenceFlow":
                continue  # a branch's label, not a step: shown on the diagram only
            name = (element.get("name") or "").strip()
            english = own_english_name(element) if name else None
            if english:
                found[name] = english
    return found


#: The names of each deployed definition, by the hash of its sources: what a definition holds never
#: changes, so each is read and parsed once in a process's life, however often the names are read again.
_BY_CONTENT: dict[str, dict[str, str]] = {}


def _read(session: Session) -> StepNames:
    hashes = list(
        session.scalars(
            select(ProcessDefinition.content_hash)
            .where(ProcessDefinition.kind == DefinitionKind.BPMN)
            .order_by(ProcessDefinition.id)  # the newest deployment last: its names win
        )
    )
    unread = {h for h in hashes if h not in _BY_CONTENT}
    if unread:
        rows = session.execute(
            select(ProcessDefinition.content_hash, ProcessDefinition.sources).where(
                ProcessDefinition.content_hash.in_(unread)
            )
        )
        for content_hash, sources in rows:
            _BY_CONTENT[content_hash] = english_names(sources)
    english: dict[str, str] = {}
    for content_hash in hashes:
        english.update(_BY_CONTENT.get(content_hash, {}))
    return StepNames(english)


def step_names(session: Session) -> StepNames:
    """The steps' names in both languages, as the deployed definitions give them."""
    return reference.cached(session, "step_names", _read)
