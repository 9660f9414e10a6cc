"""Deployed process definitions: deploy a new version, find one, and cache its parsed spec.

A definition is parsed once per process and version (about 1 ms a file, but a case step must not
pay it); the cache is keyed by the definition row id, which never changes meaning. A decision table
may be deployed on its own (a definition of kind ``dmn``), and a process may call processes and
decisions deployed apart from it (see :mod:`workflows_bpmn.references`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, object_session

from huiju.db import utcnow
from huiju.errors import DeployError, NotFoundError
from huiju.i18n import _
from workflows_bpmn.models import DefinitionKind, ProcessDefinition
from workflows_bpmn.references import dependency_sources, external_calls, resolve
from workflows_bpmn.refusals import not_xml
from workflows_bpmn.validation import ParsedBundle, Roots, parse_bundle, static_checks

PROCESS_FOLDER = Path(__file__).parent / "processes"
_DMN_DECISION_XPATH = "//*[local-name()='decision']/@id"
_CALLED_DECISION_XPATH = "//*[local-name()='calledDecisionId']/text()"


@dataclass(frozen=True)
class DeployResult:
    definition: ProcessDefinition
    created: bool  # False when the same content was already the latest version


def read_sources(paths: Iterable[Path]) -> dict[str, str]:
    """Read the given files, adding the DMN files of their folders that they call and lack."""
    sources: dict[str, str] = {}
    folders: set[Path] = set()
    for path in paths:
        if not path.is_file():
            raise DeployError(_("{file}: no such file", file=str(path)))
        try:
            sources[path.name] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise DeployError(_("{file}: not a UTF-8 text file", file=str(path))) from exc
        folders.add(path.parent)
    called: set[str] = set()
    provided: set[str] = set()
    for text in sources.values():
        try:
            root = etree.fromstring(text.encode(), etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError:
            continue  # validation reports it with the file name
        called.update(str(x).strip() for x in root.xpath(_CALLED_DECISION_XPATH))
        provided.update(str(x) for x in root.xpath(_DMN_DECISION_XPATH))
    missing = called - provided
    for folder in sorted(folders):
        for dmn in sorted(folder.glob("*.dmn")):
            if not missing or dmn.name in sources:
                continue
            try:
                text = dmn.read_text(encoding="utf-8")
                root = etree.fromstring(text.encode(), etree.XMLParser(resolve_entities=False, no_network=True))
            except UnicodeDecodeError as exc:
                raise DeployError(_("{file}: not a UTF-8 text file", file=dmn.name)) from exc
            except etree.XMLSyntaxError as exc:
                # A decision the process calls is in a file beside it that cannot be read: say which.
                raise DeployError(not_xml(dmn.name, text.encode(), exc)) from exc
            ids = {str(x) for x in root.xpath(_DMN_DECISION_XPATH)}
            if ids & missing:
                sources[dmn.name] = text
                missing -= ids
    return sources


class SpecCache:
    """Parsed specs per deployed definition id (thread-safe; one per process)."""

    def __init__(self, functions: Mapping[str, Callable[..., Any]]) -> None:
        self.functions = functions
        self._specs: dict[int, tuple[Any, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, definition: ProcessDefinition) -> tuple[Any, dict[str, Any]]:
        found = self._specs.get(definition.id)
        if found is None:
            session = object_session(definition)
            if session is None:
                raise NotFoundError(_("no process definition {definition_id}", definition_id=definition.id))
            found = self._parse(session, definition)
        return found

    def get_by_id(self, session: Session, definition_id: int) -> tuple[Any, dict[str, Any]]:
        """The parsed spec of a definition; its row is read only on a cache miss."""
        found = self._specs.get(definition_id)
        if found is None:
            definition = session.get(ProcessDefinition, definition_id)
            if definition is None:
                raise NotFoundError(_("no process definition {definition_id}", definition_id=definition_id))
            found = self._parse(session, definition)
        return found

    def _parse(self, session: Session, definition: ProcessDefinition) -> tuple[Any, dict[str, Any]]:
        if definition.kind is DefinitionKind.DMN:
            raise NotFoundError(
                _("'{process_id}' is a decision table: cases run on processes", process_id=definition.process_id)
            )
        dependencies = dependency_sources(session, definition.references or [])
        bundle = parse_bundle(definition.sources, self.functions, definition.process_id, dependencies=dependencies,
                              references=definition.references or [], deployed=True)  # fmt: skip
        found = (bundle.spec, bundle.subprocess_specs)
        with self._lock:
            self._specs[definition.id] = found
        return found

    def prime(self, definition: ProcessDefinition, bundle: ParsedBundle) -> None:
        if bundle.spec is None:
            return
        with self._lock:
            self._specs[definition.id] = (bundle.spec, bundle.subprocess_specs)


def check(
    session: Session | None,
    sources: Mapping[str, str],
    functions: Mapping[str, Callable[..., Any]],
    *,
    collect: bool = False,
) -> ParsedBundle:
    """Every deploy-time check, what the files call resolved among deployed definitions (which
    needs ``session`` only when they call something they do not hold); nothing is written."""
    roots = Roots.of(sources)
    static_checks(roots, functions, collect=collect)
    calls = external_calls(roots)
    references: list[dict[str, Any]] = []
    dependencies: dict[str, str] = {}
    if calls:
        if session is None:
            raise DeployError(_("these files call processes or decisions deployed apart: validate them against "
                                "the database (huiju process validate with HUIJU_DATABASE_URL)"))  # fmt: skip
        references = resolve(session, calls)
        dependencies = dependency_sources(session, references, roots)
    bundle = parse_bundle(sources, functions, dependencies=dependencies, references=references, collect=collect)
    if session is not None:
        _check_namespace(session, bundle)
    return bundle


def calls_deployed(sources: Mapping[str, str]) -> bool:
    """Whether the files call processes or decisions they do not hold (looked up when deployed)."""
    try:
        return bool(external_calls(Roots.of(sources)))
    except DeployError:
        return False  # refused anyway, by the checks that say why


def _check_namespace(session: Session, bundle: ParsedBundle) -> None:
    """A process and a decision table deployed apart may not share an id: calls name them by it."""
    other = session.scalar(
        select(ProcessDefinition.kind)
        .where(ProcessDefinition.process_id == bundle.process_id, ProcessDefinition.kind != bundle.kind)
        .limit(1)
    )
    if other is not None:
        raise DeployError(
            _("'{process_id}' is already the id of a deployed {kind}: give this one another id",
              process_id=bundle.process_id, kind=KIND_WORDS[other])
        )  # fmt: skip


#: A definition's kind in words.
KIND_WORDS = {DefinitionKind.BPMN: _("process"), DefinitionKind.DMN: _("decision table")}


def validate(
    sources: Mapping[str, str], functions: Mapping[str, Callable[..., Any]], session: Session | None = None
) -> ParsedBundle:
    return check(session, sources, functions)


def deploy(
    session: Session,
    sources: Mapping[str, str],
    functions: Mapping[str, Callable[..., Any]],
    *,
    deployed_by: str,
    cache: SpecCache | None = None,
) -> DeployResult:
    """Store a new version of the process (or decision table), unless the latest version has the
    same content and calls the same deployed definitions."""
    bundle = check(session, sources, functions)
    latest = latest_definition(session, bundle.process_id, required=False)
    if latest is not None and latest.content_hash == bundle.content_hash:
        return DeployResult(latest, created=False)
    version = (latest.version if latest else 0) + 1
    definition = ProcessDefinition(
        process_id=bundle.process_id,
        version=version,
        name=bundle.name,
        content_hash=bundle.content_hash,
        sources=bundle.sources,
        deployed_by=deployed_by,
        deployed_at=utcnow(),
        kind=bundle.kind,
        references=bundle.references,
    )
    session.add(definition)
    session.flush()
    if cache is not None:
        cache.prime(definition, bundle)
    return DeployResult(definition, created=True)


def latest_definition(session: Session, process_id: str, *, required: bool = True) -> ProcessDefinition | None:
    stmt = (
        select(ProcessDefinition)
        .where(ProcessDefinition.process_id == process_id)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    )
    found = session.scalars(stmt).first()
    if found is None and required:
        raise NotFoundError(_("process '{process_id}' is not deployed", process_id=process_id))
    return found


_LATEST = (
    select(ProcessDefinition.id, ProcessDefinition.name, ProcessDefinition.version)
    .where(ProcessDefinition.process_id == bindparam("pid"), ProcessDefinition.kind == DefinitionKind.BPMN)
    .order_by(ProcessDefinition.version.desc())
    .limit(1)
)


def latest_version(session: Session, process_id: str) -> tuple[int, str, int]:
    """(id, name, version) of the latest deployed version, without reading its sources."""
    row = session.connection().execute(_LATEST, {"pid": process_id}).first()
    if row is None:
        raise NotFoundError(_("process '{process_id}' is not deployed", process_id=process_id))
    return row.id, row.name, row.version


def list_definitions(session: Session) -> list[tuple[ProcessDefinition, int]]:
    """Every deployed version with the number of its instances still running."""
    from workflows_bpmn.models import InstanceStatus, ProcessInstance

    running = (
        select(ProcessInstance.definition_id, func.count().label("n"))
        .where(ProcessInstance.status != InstanceStatus.COMPLETED)
        .group_by(ProcessInstance.definition_id)
        .subquery()
    )
    stmt = (
        select(ProcessDefinition, func.coalesce(running.c.n, 0))
        .outerjoin(running, running.c.definition_id == ProcessDefinition.id)
        .order_by(ProcessDefinition.process_id, ProcessDefinition.version)
    )
    return [(d, int(n)) for d, n in session.execute(stmt).all()]


def bundled_process_files() -> list[Path]:
    """The BPMN files shipped with Huiju (deployed by ``huiju init``)."""
    return sorted(PROCESS_FOLDER.glob("*.bpmn"))
