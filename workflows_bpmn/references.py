"""Processes and decisions that a deployment calls but does not hold (调用子流程与决策表).

A call activity names a process by its id (``calledElement``); a business rule task names a decision
table by its id (``spiffworkflow:calledDecisionId``). What the deployed files hold themselves is used
as is. Anything else must have been deployed on its own before: it is resolved when the caller is
deployed — to the latest version, or to the version the element pins with the property
``called_version`` — and the resolution is stored with the new version (``references``), so that a
case always calls exactly what its version was deployed with, whatever is deployed later. To call a
newer child, deploy the caller again: the same files resolved to another child make a new version.

When a version is loaded, the sources of what it calls (and, transitively, of what they call) are
parsed with it: SpiffWorkflow needs every spec a call activity reaches in one parser.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju.errors import DeployError
from huiju.i18n import _
from workflows_bpmn.models import DefinitionKind, ProcessDefinition
from workflows_bpmn.validation import BPMN_NS, SPIFF_NS, Roots, kind_of, parse_xml

#: The property of a call activity or business rule task that pins the version it calls.
VERSION_PROPERTY = "called_version"
PROCESS = "process"
DECISION = "decision"


@dataclass(frozen=True)
class Call:
    """An element that calls what its files do not hold."""

    kind: str  # PROCESS or DECISION
    ref: str  # the process id or decision id it names
    element: str  # the calling element's id
    file: str
    line: int
    version: int | None  # pinned with called_version, else the latest


def _property(element: etree._Element, name: str) -> str | None:
    for prop in element.iter(f"{{{SPIFF_NS}}}property"):
        if prop.get("name") == name:
            value = prop.get("value")
            return str(value) if value is not None else None
    return None


def external_calls(roots: Roots) -> list[Call]:
    """Every call activity and business rule task that names something these files do not hold."""
    processes = set(roots.process_ids())
    decisions = set(roots.decision_ids())
    calls: list[Call] = []
    for fname, root in roots.bpmn.items():
        found: list[tuple[str, str, etree._Element]] = []
        for el in root.iter(f"{{{BPMN_NS}}}callActivity"):
            found.append((PROCESS, (el.get("calledElement") or "").strip(), el))
        for el in root.iter(f"{{{BPMN_NS}}}businessRuleTask"):
            ref = el.find(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}calledDecisionId")
            if ref is not None:
                found.append((DECISION, (ref.text or "").strip(), el))
        for kind, ref, el in found:
            if not ref or ref in (processes if kind == PROCESS else decisions):
                continue
            pinned = (_property(el, VERSION_PROPERTY) or "").strip()
            where = {"file": fname, "element": el.get("id")}
            if pinned and not pinned.isdigit():
                raise DeployError(
                    _("{file}: {element}: {property} must be a version number, not '{value}'", file=fname,
                      element=el.get("id") or "?", property=VERSION_PROPERTY, value=pinned[:40]),
                    **where,
                )  # fmt: skip
            calls.append(Call(kind, ref, str(el.get("id") or ""), fname, el.sourceline or 0,
                              int(pinned) if pinned else None))  # fmt: skip
    return calls


def resolve(session: Session, calls: list[Call]) -> list[dict[str, Any]]:
    """The deployed definition each call reaches, as stored in ``ProcessDefinition.references``."""
    resolved: list[dict[str, Any]] = []
    for call in calls:
        kind = DefinitionKind.BPMN if call.kind == PROCESS else DefinitionKind.DMN
        stmt = select(ProcessDefinition).where(ProcessDefinition.process_id == call.ref, ProcessDefinition.kind == kind)
        versions = {d.version: d for d in session.scalars(stmt)}
        where = {"file": call.file, "element": call.element}
        if not versions:
            text = (
                _("{file}: {element} (line {line}) calls process '{ref}', which is neither in these files nor "
                  "deployed: deploy '{ref}' first (a process it calls is deployed on its own)", file=call.file,
                  element=call.element, line=call.line, ref=call.ref)
                if call.kind == PROCESS
                else _("{file}: {element} (line {line}) calls decision '{ref}', which is neither in these files nor "
                       "deployed: deploy its DMN file first, or with this process", file=call.file,
                       element=call.element, line=call.line, ref=call.ref)
            )  # fmt: skip
            raise DeployError(text, **where)
        chosen = versions.get(call.version) if call.version is not None else versions[max(versions)]
        if chosen is None:
            raise DeployError(
                _("{file}: {element} calls version {version} of '{ref}', which is not deployed (deployed: {known})",
                  file=call.file, element=call.element, version=call.version, ref=call.ref,
                  known=", ".join(str(v) for v in sorted(versions))),
                **where,
            )  # fmt: skip
        resolved.append({"kind": call.kind, "ref": call.ref, "element": call.element, "definition_id": chosen.id,
                         "version": chosen.version})  # fmt: skip
    return resolved


def dependency_sources(session: Session, references: list[dict[str, Any]], own: Roots | None = None) -> dict[str, str]:
    """The sources of every definition the references reach, transitively, each file named
    ``<id>@v<version>/<file>``. Two versions of one process or decision in one tree, or a process
    that reaches itself, are refused: the engine can hold one spec per id."""
    provided: dict[str, int] = {}  # process or decision id -> the definition (0: the caller's own files)
    if own is not None:
        provided.update(dict.fromkeys([*own.process_ids(), *own.decision_ids()], 0))
    sources: dict[str, str] = {}
    seen: set[int] = set()
    # (reference, the element of the caller's own files it is reached through)
    pending = [(reference, str(reference.get("element") or "?")) for reference in references]
    while pending:
        reference, through = pending.pop(0)
        definition_id = int(reference["definition_id"])
        if definition_id in seen:
            continue
        seen.add(definition_id)
        definition = session.get(ProcessDefinition, definition_id)
        if definition is None:
            raise DeployError(_("a called definition ({ref}) is no longer deployed", ref=reference.get("ref", "?")))
        files = {f"{definition.process_id}@v{definition.version}/{name}": text
                 for name, text in definition.sources.items()}  # fmt: skip
        roots = _roots(files)
        for ident in [*roots.process_ids(), *roots.decision_ids()]:
            holder = provided.get(ident)
            if holder is not None and holder != definition_id:
                raise DeployError(
                    _("'{ident}' would be loaded twice: through {element}, {ref} version {version} brings another "
                      "'{ident}' than {other}; call one version of each process and decision, and no process "
                      "that calls this one", ident=ident, ref=definition.process_id, version=definition.version,
                      element=through, other=_("these files") if holder == 0 else _("another called definition")),
                    element=through,
                )  # fmt: skip
            provided[ident] = definition_id
        sources.update(files)
        pending.extend((nested, through) for nested in definition.references or [])
    return sources


def _roots(files: Mapping[str, str]) -> Roots:
    bpmn: dict[str, etree._Element] = {}
    dmn: dict[str, etree._Element] = {}
    for name, text in files.items():
        root = parse_xml(name, text)
        (bpmn if kind_of(name, root) == "bpmn" else dmn)[name] = root
    return Roots(bpmn, dmn)
