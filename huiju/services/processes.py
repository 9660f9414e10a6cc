"""Processes for administrators (流程管理): every deployed BPMN/DMN definition with its versions, who
deployed each and when and how many cases run on it; validating and deploying files (from the
modeler or uploaded), downloading them, comparing two versions.

Administrators read and change; integrators read (they follow which calls a process makes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case as sql_case
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huiju.errors import DeployError, InputError, NotFoundError, PermissionDenied
from huiju.i18n import Message, _
from huiju.models import Role
from huiju.services import audit
from huiju.services.actors import Actor
from huiju.services.diagram_words import in_words
from workflows_bpmn.compare import Comparison, compare, main_file
from workflows_bpmn.definitions import DeployResult, SpecCache, check, deploy
from workflows_bpmn.expressions import host_functions
from workflows_bpmn.models import DefinitionKind, InstanceStatus, ProcessDefinition, ProcessInstance
from workflows_bpmn.validation import MAX_SOURCE_BYTES, Finding, findings_of

MAX_FILES = 10


def require_reader(actor: Actor) -> None:
    if actor.role not in (Role.ADMINISTRATOR, Role.INTEGRATOR):
        raise PermissionDenied(_("only administrators and integrators read process definitions"))


def require_editor(actor: Actor) -> None:
    if actor.role is not Role.ADMINISTRATOR:
        raise PermissionDenied(_("only administrators deploy processes"))


# -- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionRow:
    definition: ProcessDefinition
    running: int  # instances not ended
    cases: int  # instances ever started


@dataclass
class ProcessRow:
    process_id: str
    kind: DefinitionKind
    versions: list[VersionRow] = field(default_factory=list)  # newest first

    @property
    def latest(self) -> ProcessDefinition:
        return self.versions[0].definition

    @property
    def running(self) -> int:
        return sum(v.running for v in self.versions)


def catalogue(session: Session, actor: Actor) -> list[ProcessRow]:
    """Every deployed process and decision table with its versions, newest first."""
    require_reader(actor)
    counts = (
        select(
            ProcessInstance.definition_id,
            func.count().label("cases"),
            func.sum(sql_case((ProcessInstance.status != InstanceStatus.COMPLETED, 1), else_=0)).label("running"),
        )
        .group_by(ProcessInstance.definition_id)
        .subquery()
    )
    rows = session.execute(
        select(ProcessDefinition, func.coalesce(counts.c.running, 0), func.coalesce(counts.c.cases, 0))
        .outerjoin(counts, counts.c.definition_id == ProcessDefinition.id)
        .order_by(ProcessDefinition.kind, ProcessDefinition.process_id, ProcessDefinition.version.desc())
    ).all()
    found: dict[str, ProcessRow] = {}
    for definition, running, cases in rows:
        row = found.setdefault(definition.process_id, ProcessRow(definition.process_id, definition.kind))
        row.versions.append(VersionRow(definition, int(running), int(cases)))
    return list(found.values())


def get_version(session: Session, actor: Actor, process_id: str, version: int) -> ProcessDefinition:
    require_reader(actor)
    found = session.scalars(
        select(ProcessDefinition).where(
            ProcessDefinition.process_id == process_id, ProcessDefinition.version == version
        )  # fmt: skip
    ).one_or_none()
    if found is None:
        raise NotFoundError(_("no version {version} of process '{process_id}'", version=version, process_id=process_id))
    return found


def versions_of(session: Session, actor: Actor, process_id: str) -> list[VersionRow]:
    for row in catalogue(session, actor):
        if row.process_id == process_id:
            return row.versions
    raise NotFoundError(_("process '{process_id}' is not deployed", process_id=process_id))


def diagram_file(definition: ProcessDefinition) -> str:
    """The name of the file drawn for a version: its process's BPMN file, or a decision table's DMN."""
    name = main_file(definition.sources, definition.process_id) or next(iter(sorted(definition.sources)), None)
    if name is None:
        raise NotFoundError(_("process '{process_id}' has no file", process_id=definition.process_id))
    return name


def modeled_file(definition: ProcessDefinition) -> str:
    """The file the modeler opens: the process's BPMN file (a decision table is edited as a file)."""
    name = diagram_file(definition)
    if not name.endswith(".bpmn"):
        raise InputError(_("a decision table is edited as a DMN file: download it, change it, deploy it again"))
    return name


def version_file(
    session: Session, actor: Actor, process_id: str, version: int, name: str, *, reader_locale: str | None = None
) -> str:
    """A file of a version as deployed; with ``reader_locale``, a BPMN file as drawn for a reader in that
    language (:func:`huiju.services.diagram_words.in_words`)."""
    definition = get_version(session, actor, process_id, version)
    if name not in definition.sources:
        raise NotFoundError(_("version {version} of '{process_id}' has no file {file}", version=version,
                              process_id=process_id, file=name))  # fmt: skip
    text = definition.sources[name]
    return in_words(text, reader_locale) if reader_locale is not None and name.endswith(".bpmn") else text


def called_by(session: Session, definition: ProcessDefinition) -> list[ProcessDefinition]:
    """Deployed versions that call this one (its dependents)."""
    others = session.scalars(select(ProcessDefinition).where(ProcessDefinition.id != definition.id)).all()
    return [d for d in others if any(int(r["definition_id"]) == definition.id for r in d.references or [])]


# -- validating and deploying -------------------------------------------------------------------


@dataclass(frozen=True)
class Validation:
    """What the deploy-time checks say of some files: every refusal, each naming its element."""

    findings: list[Finding]
    process_id: str | None = None
    name: str | None = None
    kind: DefinitionKind | None = None
    references: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def checked_sources(files: Mapping[str, str | bytes]) -> dict[str, str]:
    """Uploaded or edited files as the checks take them: a few, named .bpmn or .dmn, UTF-8 text."""
    if not files:
        raise InputError(_("choose at least one BPMN or DMN file"), field="files")
    if len(files) > MAX_FILES:
        raise InputError(_("at most {count} files at a time", count=MAX_FILES), field="files")
    sources: dict[str, str] = {}
    for raw_name, content in files.items():
        name = raw_name.replace("\\", "/").rsplit("/", 1)[-1].strip()
        if not re.fullmatch(r"[\w.\-\u4e00-\u9fff]{1,100}\.(bpmn|dmn)", name):
            raise InputError(_("{file}: a file name ending in .bpmn or .dmn, without folders", file=name or "-"),
                             field="files")  # fmt: skip
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        if len(data) > MAX_SOURCE_BYTES:
            raise InputError(_("{file}: larger than {limit} KB", file=name, limit=MAX_SOURCE_BYTES // 1024),
                             field="files")  # fmt: skip
        try:
            sources[name] = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(_("{file}: not a UTF-8 text file", file=name), field="files") from exc
    return sources


def validate_files(session: Session, actor: Actor, sources: Mapping[str, str]) -> Validation:
    """The checks of ``huiju process validate``, every refusal at once; nothing is written."""
    require_editor(actor)
    try:
        bundle = check(session, sources, host_functions(), collect=True)
    except DeployError as exc:
        return Validation(findings_of(exc))
    return Validation([], bundle.process_id, bundle.name, bundle.kind, bundle.references)


def deploy_files(
    session: Session, actor: Actor, sources: Mapping[str, str], cache: SpecCache | None = None
) -> DeployResult:
    """A new version (or "unchanged"), audited; refused files raise :class:`DeployError`."""
    require_editor(actor)
    result = deploy(session, sources, host_functions(), deployed_by=actor.username, cache=cache)
    if result.created:
        definition = result.definition
        audit.record(
            session, actor, "process.deploy", target_kind="definition", target=definition.process_id,
            definition=f"{definition.process_id} v{definition.version}",
            after={"version": definition.version, "content_hash": definition.content_hash,
                   "files": sorted(definition.sources), "references": definition.references},
        )  # fmt: skip
    return result


def edited_sources(session: Session, actor: Actor, process_id: str, version: int, xml: str) -> dict[str, str]:
    """The files of a version with its diagram replaced by the modeler's XML (the others kept)."""
    definition = get_version(session, actor, process_id, version)
    return {**definition.sources, diagram_file(definition): xml}


def compare_versions(session: Session, actor: Actor, process_id: str, old: int, new: int) -> Comparison:
    before = get_version(session, actor, process_id, old)
    after = get_version(session, actor, process_id, new)
    return compare(before.sources, after.sources, process_id)


# -- words ----------------------------------------------------------------------------------------

#: BPMN element kinds, in words.
ELEMENT_KINDS: dict[str, Message] = {
    "process": _("process"),
    "participant": _("pool"),
    "collaboration": _("collaboration"),
    "laneSet": _("lanes"),
    "lane": _("lane"),
    "startEvent": _("start event"),
    "endEvent": _("end event"),
    "intermediateCatchEvent": _("intermediate event (waits)"),
    "intermediateThrowEvent": _("intermediate event (sends)"),
    "boundaryEvent": _("boundary event"),
    "userTask": _("user task"),
    "manualTask": _("manual task"),
    "serviceTask": _("service task"),
    "businessRuleTask": _("decision task"),
    "callActivity": _("call activity"),
    "subProcess": _("sub-process"),
    "receiveTask": _("receive task"),
    "sendTask": _("send task"),
    "task": _("task"),
    "exclusiveGateway": _("exclusive gateway"),
    "parallelGateway": _("parallel gateway"),
    "inclusiveGateway": _("inclusive gateway"),
    "eventBasedGateway": _("event-based gateway"),
    "sequenceFlow": _("sequence flow"),
    "messageFlow": _("message flow"),
    "message": _("message"),
    "error": _("error"),
    "signal": _("signal"),
    "escalation": _("escalation"),
    "correlationProperty": _("correlation property"),
    "correlationKey": _("correlation key"),
    "textAnnotation": _("annotation"),
    "association": _("association"),
    "dataObject": _("data object"),
    "dataObjectReference": _("data object"),
}


def kind_words(kind: str) -> Message:
    return ELEMENT_KINDS.get(kind) or _("{kind}", kind=kind)


_ATTRIBUTES: dict[str, Message] = {
    "name": _("name"),
    "calledElement": _("called process"),
    "sourceRef": _("from"),
    "targetRef": _("to"),
    "default": _("default flow"),
    "attachedToRef": _("attached to"),
    "cancelActivity": _("interrupting"),
    "messageRef": _("message"),
    "errorRef": _("error"),
    "isExecutable": _("executable"),
    "processRef": _("process of the pool"),
    "errorCode": _("error code"),
}
_PATTERNS: list[tuple[re.Pattern[str], Callable[[str], Message]]] = [
    (re.compile(r"^\(kind\)$"), lambda q: _("kind of element")),
    (re.compile(r"property\[(?P<q>[^\]]*)\]/@value$"), lambda q: _("property {q}", q=q)),
    (re.compile(r"serviceTaskOperator/@id$"), lambda q: _("service operation")),
    (re.compile(r"serviceTaskOperator/@resultVariable$"), lambda q: _("result variable")),
    (re.compile(r"parameter\[(?P<q>[^\]]*)\]/@value$"), lambda q: _("parameter {q}", q=q)),
    (re.compile(r"parameter\[(?P<q>[^\]]*)\]/@type$"), lambda q: _("type of parameter {q}", q=q)),
    (re.compile(r"parameter\[(?P<q>[^\]]*)\]$"), lambda q: _("parameter {q}", q=q)),
    (re.compile(r"timeDuration/#text$"), lambda q: _("timer (duration)")),
    (re.compile(r"timeDate/#text$"), lambda q: _("timer (date)")),
    (re.compile(r"timeCycle/#text$"), lambda q: _("timer (cycle)")),
    (re.compile(r"conditionExpression/#text$"), lambda q: _("condition")),
    (re.compile(r"calledDecisionId/#text$"), lambda q: _("decision table")),
    (re.compile(r"documentation/#text$"), lambda q: _("documentation")),
    (re.compile(r"^flowNodeRef\[(?P<q>[^\]]*)\]$"), lambda q: _("lane member {q}", q=q)),
    (re.compile(r"^incoming\[(?P<q>[^\]]*)\]$"), lambda q: _("incoming flow {q}", q=q)),
    (re.compile(r"^outgoing\[(?P<q>[^\]]*)\]$"), lambda q: _("outgoing flow {q}", q=q)),
    (re.compile(r"messageVariable/#text$"), lambda q: _("message variable")),
    (re.compile(r"EventDefinition/@messageRef$"), lambda q: _("message")),
    (re.compile(r"EventDefinition/@errorRef$"), lambda q: _("error")),
    (re.compile(r"^(?P<q>[A-Za-z]+EventDefinition)$"), lambda q: _("event {q}", q=q)),
]


def fact_words(path: str) -> Message:
    """What a compared fact is, in words (the path itself when nothing better is known)."""
    attribute = re.fullmatch(r"@(\w+)", path)
    if attribute and attribute.group(1) in _ATTRIBUTES:
        return _ATTRIBUTES[attribute.group(1)]
    for pattern, words in _PATTERNS:
        found = pattern.search(path)
        if found:
            return words(found.groupdict().get("q") or "")
    return _("{aspect}", aspect=path)
