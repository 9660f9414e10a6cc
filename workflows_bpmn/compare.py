"""Two versions of a process compared element by element (版本比对): added, removed, changed.

Elements are matched by their BPMN ``id``. An element's content is everything it holds that has
no id of its own — attributes, extension properties, service-task parameters, conditions, timer
expressions, a lane's member list — flattened into facts (``path → value``); two versions of an
element differ when their facts do, and each differing fact is one change, described by where it
sits. The layout (BPMN DI) is left out: moving a shape is no change of the process. An event
definition belongs to its event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lxml import etree

from workflows_bpmn.validation import BPMN_NS, parse_xml

ChangeKind = Literal["added", "removed", "changed"]
#: Elements that hold others: only their own facts count (their members are compared one by one).
_CONTAINERS = {"definitions", "process", "subProcess", "transaction", "adHocSubProcess", "laneSet", "collaboration"}
#: Children named by their text: a lane's members, a node's flows.
_LISTED = ("flowNodeRef", "incoming", "outgoing")
_DIAGRAM_NAMESPACES = ("/DI", "/DC")
#: Repeated extension children, told apart by an attribute (left out of their facts).
_QUALIFIERS = {"property": "name", "parameter": "id"}
#: Attributes at their BPMN 2.0 default: written or left out, they say the same (bpmn-js leaves them out).
_DEFAULTS = {("cancelActivity", "true"), ("isInterrupting", "true"), ("parallelMultiple", "false"),
             ("isForCompensation", "false"), ("completionQuantity", "1"), ("startQuantity", "1")}  # fmt: skip


@dataclass(frozen=True)
class Fact:
    path: str  # e.g. "@name", "extensionElements/properties/property[decisions]@value"
    before: str | None
    after: str | None


@dataclass(frozen=True)
class ElementChange:
    element: str  # the id, as the diagram knows it
    kind: str  # BPMN local name: userTask, sequenceFlow, lane ...
    name: str
    change: ChangeKind
    facts: list[Fact] = field(default_factory=list)


@dataclass(frozen=True)
class Comparison:
    changes: list[ElementChange]
    files_added: list[str]
    files_removed: list[str]
    files_changed: list[str]  # other files (DMN tables) whose text differs

    def of(self, change: ChangeKind) -> list[ElementChange]:
        return [c for c in self.changes if c.change == change]


def _local(element: etree._Element) -> str:
    return str(etree.QName(element).localname)


def _is_diagram(element: etree._Element) -> bool:
    return (etree.QName(element).namespace or "").endswith(_DIAGRAM_NAMESPACES)


def _separate(element: etree._Element) -> bool:
    """A BPMN element compared on its own: it has an id and is not an event definition (an extension's
    ``id`` is a name: a service parameter's, an operation's)."""
    return (
        etree.QName(element).namespace == BPMN_NS
        and bool(element.get("id"))
        and not _local(element).endswith("EventDefinition")
    )


def _facts(element: etree._Element, prefix: str = "") -> dict[str, str]:
    facts: dict[str, str] = {}
    for key, value in sorted(element.attrib.items()):
        local = etree.QName(key).localname
        if local == "id" and etree.QName(element).namespace == BPMN_NS or local == _QUALIFIERS.get(_local(element)):
            continue
        if (local, str(value)) in _DEFAULTS:
            continue
        facts[f"{prefix}@{local}"] = str(value)
    text = (element.text or "").strip()
    if text:
        facts[f"{prefix}#text" if prefix else "#text"] = " ".join(text.split())
    seen: dict[str, int] = {}
    for child in element:
        if not isinstance(child.tag, str) or _separate(child) or _is_diagram(child):
            continue
        name = _local(child)
        if name == "formalExpression" and _local(element) == "correlationPropertyRetrievalExpression":
            name = "messagePath"  # how bpmn-js writes a message path; SpiffWorkflow reads both alike
        if name in _LISTED and not len(child):
            facts[f"{prefix}{name}[{' '.join((child.text or '').split())}]"] = ""
            continue
        key = _QUALIFIERS.get(name)
        qualifier = str(child.get(key) or "") if key else ""
        if not qualifier:
            seen[name] = seen.get(name, 0) + 1
            qualifier = str(seen[name]) if seen[name] > 1 else ""
        step = f"{name}[{qualifier}]" if qualifier else name
        facts.update(_facts(child, f"{prefix}{step}/") or {f"{prefix}{step}": ""})
    return {path.rstrip("/"): value for path, value in facts.items()}


def _elements(root: etree._Element) -> dict[str, tuple[str, str, dict[str, str]]]:
    """id → (kind, name, facts) of every element compared on its own."""
    found: dict[str, tuple[str, str, dict[str, str]]] = {}
    for element in root.iter():
        if not isinstance(element.tag, str) or element is root or not _separate(element) or _is_diagram(element):
            continue
        if any(_is_diagram(ancestor) for ancestor in element.iterancestors()):
            continue
        kind = _local(element)
        facts = _facts(element)
        if kind in _CONTAINERS:
            facts = {p: v for p, v in facts.items() if "/" not in p or p.startswith("documentation")}
        found[str(element.get("id"))] = (kind, str(element.get("name") or ""), facts)
    return found


def compare_bpmn(old: str, new: str) -> list[ElementChange]:
    before = _elements(parse_xml("old.bpmn", old))
    after = _elements(parse_xml("new.bpmn", new))
    changes: list[ElementChange] = []
    for ident, (kind, name, facts) in after.items():
        if ident not in before:
            changes.append(ElementChange(ident, kind, name, "added"))
            continue
        old_facts = before[ident][2]
        differing = [
            Fact(path, old_facts.get(path), facts.get(path))
            for path in sorted(set(old_facts) | set(facts))
            if old_facts.get(path) != facts.get(path)
        ]
        if differing or before[ident][0] != kind:
            if before[ident][0] != kind:
                differing.insert(0, Fact("(kind)", before[ident][0], kind))
            changes.append(ElementChange(ident, kind, name or before[ident][1], "changed", differing))
    for ident, (kind, name, _kept) in before.items():
        if ident not in after:
            changes.append(ElementChange(ident, kind, name, "removed"))
    order = {"added": 0, "changed": 1, "removed": 2}
    return sorted(changes, key=lambda c: (order[c.change], c.kind, c.element))


def main_file(sources: dict[str, str], process_id: str) -> str | None:
    """The BPMN file that defines the process (the one drawn and edited)."""
    bpmn = sorted(name for name in sources if name.endswith(".bpmn"))
    for name in bpmn:
        if f'id="{process_id}"' in sources[name]:
            return name
    return bpmn[0] if bpmn else None


def compare(old: dict[str, str], new: dict[str, str], process_id: str) -> Comparison:
    """Two deployments of a process: the main BPMN file element by element, other files as a whole."""
    old_main, new_main = main_file(old, process_id), main_file(new, process_id)
    changes = compare_bpmn(old[old_main], new[new_main]) if old_main and new_main else []
    others_old = {n: t for n, t in old.items() if n != old_main}
    others_new = {n: t for n, t in new.items() if n != new_main}
    return Comparison(
        changes=changes,
        files_added=sorted(set(others_new) - set(others_old)),
        files_removed=sorted(set(others_old) - set(others_new)),
        files_changed=sorted(n for n in set(others_old) & set(others_new) if others_old[n] != others_new[n]),
    )
