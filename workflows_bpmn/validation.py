"""Deploy-time checks of BPMN and DMN sources (what ``huiju process validate`` runs).

Uploaded definitions are untrusted. A file is refused, with a message that names the element, when
it is not XML, not BPMN/DMN, does not follow the BPMN 2.0 (or its DMN version's) schema, holds what
the schema allows and the engine cannot run (see :mod:`workflows_bpmn.refusals`, which also words
what the XML parser and SpiffWorkflow refuse), carries a DTD, holds a script task or a pre/post
script, calls an unknown service operation, puts a user task outside a known lane, holds an
expression that the restricted evaluator would refuse, runs more than one pool of a collaboration,
or holds more than one decision in a DMN file. The sources are then parsed by SpiffWorkflow, so
that what passes here is exactly what the runner can load.

Each refusal names the element (its ``id``) as well as the file: the modeler marks it on the
diagram. :func:`parse_bundle` raises the first refusal, or with ``collect`` every refusal of the
static checks at once (:class:`Finding`, in the error's ``findings`` detail).
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser import VALIDATOR

from adapters import registry as adapter_registry
from huiju.errors import DeployError, ExpressionError
from huiju.i18n import Message, _
from workflows_bpmn.expressions import check_expression
from workflows_bpmn.models import DefinitionKind
from workflows_bpmn.refusals import (
    duration_in_words,
    foreign_root,
    not_xml,
    schema_refusals,
    shape_refusals,
    spiff_refusal,
    where,
)
from workflows_bpmn.specs import HuijuBpmnParser, connect_loops

MAX_SOURCE_BYTES = 2 * 1024 * 1024
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMN_NAMESPACES = {
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "https://www.omg.org/spec/DMN/20230324/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
}
#: BPMN lanes that Huiju knows, and the role that may work on their tasks.
LANE_ROLES = {
    "community_officer": "community_officer",
    "street_reviewer": "street_reviewer",
    "applicant": "resident",
    "provider": "provider",  # 服务提供商 (O2O orders)
    "operator": "operator",  # 平台运营商 (O2O orders)
}
NS = {"bpmn": BPMN_NS, "spiff": SPIFF_NS}


@dataclass(frozen=True)
class Finding:
    """One refusal: the file, the element it names (marked on the diagram; None for the file), why."""

    file: str
    element: str | None
    text: Message


class Findings:
    """Where the checks put what they refuse: raised at once, or (``collect``) gathered."""

    def __init__(self, *, collect: bool = False) -> None:
        self.collect = collect
        self.found: list[Finding] = []

    def refuse(
        self, file: str, element: etree._Element | str | None, text: Message, cause: Exception | None = None
    ) -> None:
        ident = element if isinstance(element, str) or element is None else element.get("id")
        if not self.collect:
            raise DeployError(text, file=file, element=ident) from cause
        self.found.append(Finding(file, ident, text))

    def raise_any(self) -> None:
        if self.found:
            raise DeployError(self.found[0].text, file=self.found[0].file, element=self.found[0].element,
                              findings=list(self.found))  # fmt: skip


def findings_of(error: DeployError) -> list[Finding]:
    """Every refusal an error carries (one, unless it was raised by a collecting check)."""
    found = error.details.get("findings")
    if found:
        return list(found)
    text = error.text if isinstance(error.text, Message) else _("{problem}", problem=error.text)
    return [Finding(str(error.details.get("file") or ""), error.details.get("element"), text)]


@dataclass(frozen=True)
class ParsedBundle:
    """Checked sources of one deployable process (or decision) and what SpiffWorkflow made of them."""

    process_id: str
    name: str
    sources: dict[str, str]
    content_hash: str
    spec: Any
    subprocess_specs: dict[str, Any]
    kind: DefinitionKind = DefinitionKind.BPMN
    references: list[dict[str, Any]] = field(default_factory=list)


def parse_xml(name: str, text: str) -> etree._Element:
    data = text.encode("utf-8")
    if len(data) > MAX_SOURCE_BYTES:
        raise DeployError(_("{file}: larger than {limit} KB", file=name, limit=MAX_SOURCE_BYTES // 1024), file=name)
    # The text is decoded already: an encoding the file declares (GBK, say) no longer holds.
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True, encoding="utf-8"
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise DeployError(not_xml(name, data, exc), file=name) from exc
    if root.getroottree().docinfo.doctype:
        raise DeployError(_("{file}: a DOCTYPE is not allowed in process definitions", file=name), file=name)
    return root


def _owner(element: etree._Element, levels: int = 2) -> etree._Element:
    """The element an extension belongs to (``levels`` up), or the highest ancestor there is."""
    for _level in range(levels):
        parent = element.getparent()
        if parent is None:
            break
        element = parent
    return element


_where = where


def _check_expr(
    name: str, element: etree._Element, text: str | None, functions: Mapping[str, Any], found: Findings
) -> None:
    if text is None or not text.strip():
        return
    try:
        check_expression(text, functions)
    except ExpressionError as exc:
        found.refuse(name, element, _("{file}: {where}: {problem}", file=name, where=_where(element), problem=exc.text),
                     exc)  # fmt: skip


def check_bpmn(
    name: str, root: etree._Element, functions: Mapping[str, Callable[..., Any]], found: Findings | None = None
) -> None:
    found = found if found is not None else Findings()
    if root.tag != f"{{{BPMN_NS}}}definitions":
        found.refuse(
            name, None,
            _("{file}: not a BPMN 2.0 file (root element is {root})", file=name, root=etree.QName(root).localname),
        )  # fmt: skip
        return
    for el in root.iter(f"{{{BPMN_NS}}}scriptTask"):
        found.refuse(
            name, el,
            _("{file}: {where}: script tasks are not allowed; use a service task or a DMN", file=name,
              where=_where(el)),
        )  # fmt: skip
    for tag in ("preScript", "postScript"):
        for el in root.iter(f"{{{SPIFF_NS}}}{tag}"):
            if (el.text or "").strip():
                owner = _owner(el)
                found.refuse(name, owner, _("{file}: {where}: {tag} is not allowed", file=name, where=_where(owner),
                                            tag=tag))  # fmt: skip
    for el in root.iter(f"{{{SPIFF_NS}}}serviceTaskOperator"):
        operation = el.get("id", "")
        task = _owner(el)
        if not adapter_registry.is_known(operation):
            found.refuse(
                name, task,
                _("{file}: {where}: unknown service operation '{operation}'", file=name, where=_where(task),
                  operation=operation),
            )  # fmt: skip
        for param in el.iter(f"{{{SPIFF_NS}}}parameter"):
            _check_expr(name, task, param.get("value"), functions, found)
    # Every element whose text SpiffWorkflow evaluates as an expression.
    for tag in (
        "conditionExpression", "condition", "timeDuration", "timeDate", "timeCycle",
        "loopCardinality", "completionCondition", "formalExpression", "messagePath",
    ):  # fmt: skip
        for el in root.iter(f"{{{BPMN_NS}}}{tag}"):
            worded = duration_in_words(name, _owner(el, 2), el.text) if tag == "timeDuration" else None
            if worded is not None:
                found.refuse(name, _owner(el, 2), worded)
                continue
            _check_expr(name, _owner(el, 1), el.text, functions, found)
    for el in root.iter(f"{{{SPIFF_NS}}}messagePayload"):
        _check_expr(name, _owner(el), el.text, functions, found)
    for el in root.iter(f"{{{BPMN_NS}}}timeCycle"):
        _check_cycle(name, _owner(el, 2), el.text, found)
    _check_lanes(name, root, found)
    _check_pools(name, root, found)
    _check_flows(name, root, found)


#: Containers of a flow: a process and the sub-processes in it, each with flows of its own.
_FLOW_CONTAINERS = ("process", "subProcess", "transaction", "adHocSubProcess")
#: What a sequence flow may not join: what holds no place in a flow.
_NOT_FLOW_NODES = frozenset({"sequenceFlow", "laneSet", "lane", "dataObject", "dataStoreReference",
                             "dataObjectReference", "textAnnotation", "association", "extensionElements",
                             "documentation", "ioSpecification", "property"})  # fmt: skip


def _check_flows(name: str, root: etree._Element, found: Findings) -> None:
    """Said in words before SpiffWorkflow reads the file (whose words for these are its own, and for
    a missing flow target misleading): every sequence flow joins two elements of its own process or
    sub-process, and every executable process has a start event."""
    for tag in _FLOW_CONTAINERS:
        for container in root.iter(f"{{{BPMN_NS}}}{tag}"):
            nodes = {
                str(child.get("id")) for child in container
                if isinstance(child.tag, str) and child.get("id")
                and etree.QName(child).localname not in _NOT_FLOW_NODES
            }  # fmt: skip
            for flow in container.findall(f"{{{BPMN_NS}}}sequenceFlow"):
                for end in ("sourceRef", "targetRef"):
                    ref = flow.get(end) or ""
                    if ref not in nodes:
                        found.refuse(name, flow, _("{file}: {where} joins '{ref}', which is not an element of its "
                                                   "process", file=name, where=_where(flow), ref=ref))  # fmt: skip
            executable = tag == "process" and container.get("isExecutable") == "true"
            if executable and container.find(f"{{{BPMN_NS}}}startEvent") is None:
                found.refuse(name, container, _("{file}: {where} has no start event", file=name,
                                                where=_where(container)))  # fmt: skip


def _check_lanes(name: str, root: etree._Element, found: Findings) -> None:
    lanes = {lane.get("id"): lane for lane in root.iter(f"{{{BPMN_NS}}}lane")}
    members = {lid: {(ref.text or "").strip() for ref in lane.iter(f"{{{BPMN_NS}}}flowNodeRef")}
               for lid, lane in lanes.items()}  # fmt: skip
    user_tasks = [*root.iter(f"{{{BPMN_NS}}}userTask", f"{{{BPMN_NS}}}manualTask")]
    for el in user_tasks:
        if not any(el.get("id") in refs for refs in members.values()):
            found.refuse(
                name, el,
                _("{file}: {where}: a user task must sit in a lane ({lanes})", file=name, where=_where(el),
                  lanes=", ".join(LANE_ROLES)),
            )  # fmt: skip
    user_ids = {el.get("id") for el in user_tasks}
    for lid, lane in lanes.items():
        if members[lid] & user_ids and lane_role(lane.get("name") or lid) is None:
            found.refuse(
                name, lane,
                _("{file}: lane '{lane}' holds user tasks but is not one of {lanes}", file=name,
                  lane=lane.get("name") or lid, lanes=", ".join(LANE_ROLES)),
            )  # fmt: skip


def _check_pools(name: str, root: etree._Element, found: Findings) -> None:
    """A collaboration runs one pool here: the others stand for the parties it exchanges messages
    with (their processes not executable, or no process at all, a "black box" pool)."""
    processes = {p.get("id"): p for p in root.iter(f"{{{BPMN_NS}}}process")}
    collaborations = list(root.iter(f"{{{BPMN_NS}}}collaboration"))
    if len(collaborations) > 1:
        found.refuse(
            name, collaborations[1],
            _("{file}: holds {count} collaborations; keep one collaboration per file", file=name,
              count=len(collaborations)),
        )  # fmt: skip
    for collaboration in collaborations:
        running = [
            participant for participant in collaboration.iter(f"{{{BPMN_NS}}}participant")
            if (process := processes.get(participant.get("processRef"))) is not None
            and process.get("isExecutable") == "true"
        ]  # fmt: skip
        if len(running) > 1:
            pools = ", ".join(p.get("name") or p.get("id") or "?" for p in running)
            found.refuse(
                name, running[1],
                _(
                    "{file}: collaboration '{collaboration}' has {count} executable pools ({pools}); Huiju runs one "
                    "pool per file: mark the pools of the other parties isExecutable=\"false\" (their messages "
                    "come and go through the adapters), or deploy each pool's process from a file of its own",
                    file=name, collaboration=collaboration.get("id") or "?", count=len(running), pools=pools,
                ),
            )  # fmt: skip


#: The shortest interval a repeating timer may have: a zero or tiny one would wake the sweep on every
#: pass and fill the instance with fired timers.
MIN_TIMER_CYCLE = timedelta(minutes=1)


def _check_cycle(name: str, element: etree._Element, text: str | None, found: Findings) -> None:
    """A repeating timer (ISO 8601 ``R[n]/duration``) written as a literal must repeat at most once a
    minute; ``element`` is the timer event, the element marked on the diagram."""
    try:
        value = ast.literal_eval((text or "").strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return  # an expression, checked by the restricted evaluator; its value is known only at run time
    if not isinstance(value, str):
        found.refuse(name, element, _("{file}: {where}: a timer cycle must be a text such as \"R3/PT1H\"",
                                      file=name, where=_where(element)))  # fmt: skip
        return
    try:
        _cycles, _start, interval = TimerEventDefinition.parse_iso_recurring_interval(value)
    except Exception as exc:  # noqa: BLE001 - SpiffWorkflow raises bare Exception for a bad interval
        found.refuse(
            name, element,
            _("{file}: {where}: '{cycle}' is not an ISO 8601 repeating interval such as \"R3/PT1H\"",
              file=name, where=_where(element), cycle=value[:80]),
            exc,
        )  # fmt: skip
        return
    if interval < MIN_TIMER_CYCLE:
        found.refuse(
            name, element,
            _("{file}: {where}: the timer repeats every {seconds} seconds; at least every {minimum} seconds",
              file=name, where=_where(element), seconds=round(interval.total_seconds(), 3),
              minimum=int(MIN_TIMER_CYCLE.total_seconds())),
        )  # fmt: skip


def lane_role(lane: str | None) -> str | None:
    """The role that works on a lane's tasks; lanes may be named 'community_officer (社区专干)'."""
    if lane is None:
        return None
    key = lane.split("(")[0].split("（")[0].strip()
    return LANE_ROLES.get(key)


def check_dmn(
    name: str, root: etree._Element, functions: Mapping[str, Callable[..., Any]], found: Findings | None = None
) -> None:
    found = found if found is not None else Findings()
    ns = etree.QName(root).namespace
    if ns not in DMN_NAMESPACES or etree.QName(root).localname != "definitions":
        found.refuse(name, None, _("{file}: not a DMN file", file=name))
        return
    decisions = root.findall(f"{{{ns}}}decision")
    if not decisions:
        found.refuse(name, None, _("{file}: holds no decision", file=name))
    elif len(decisions) > 1:
        found.refuse(
            name, decisions[1],
            _("{file}: holds {count} decisions; the engine reads one decision table per DMN file: put each "
              "decision in a file of its own", file=name, count=len(decisions)),
        )  # fmt: skip
    for table in root.iter(f"{{{ns}}}decisionTable"):
        inputs = []
        for column in table.findall(f"{{{ns}}}input"):
            text_el = column.find(f"{{{ns}}}inputExpression/{{{ns}}}text")
            expression = (text_el.text or "").strip() if text_el is not None else ""
            _check_expr(name, column, expression, functions, found)
            inputs.append(expression)
        for rule in table.findall(f"{{{ns}}}rule"):
            for position, cell in enumerate(rule.findall(f"{{{ns}}}inputEntry")):
                text_el = cell.find(f"{{{ns}}}text")
                text = (text_el.text or "").strip() if text_el is not None else ""
                if text in ("", "-") or position >= len(inputs):
                    continue
                _check_expr(name, cell, dmn_cell_expression(inputs[position], text), functions, found)
            for cell in rule.findall(f"{{{ns}}}outputEntry"):
                text_el = cell.find(f"{{{ns}}}text")
                _check_expr(name, cell, text_el.text if text_el is not None else None, functions, found)


# SpiffWorkflow's DMN engine replaces '?' outside quotes by the input's value.
_QUESTION_MARK = re.compile(r"""(\?)(?=(?:[^'"]|['"][^'"]*['"])*$)""")


def dmn_cell_expression(input_expression: str, cell: str) -> str:
    """The expression SpiffWorkflow's DMN engine evaluates for one input cell, built as it does."""
    replaced = _QUESTION_MARK.sub("dmninputexpr", cell)
    if "dmninputexpr" in replaced:
        return replaced
    try:
        ast.parse(cell, mode="eval")
    except SyntaxError:
        return input_expression + cell  # an operator tail such as '>= 60', appended as is
    return f"({input_expression}) == ({cell})"


def kind_of(name: str, root: etree._Element) -> str:
    ns = etree.QName(root).namespace
    if ns == BPMN_NS:
        return "bpmn"
    if ns in DMN_NAMESPACES:
        return "dmn"
    raise DeployError(foreign_root(name, root), file=name)


def content_hash(sources: Mapping[str, str], references: Iterable[Mapping[str, Any]] = ()) -> str:
    """SHA-256 of the files (by name) and of the deployed definitions they call: calling another
    version of a child makes another version of the parent."""
    digest = hashlib.sha256()
    for fname in sorted(sources):
        digest.update(fname.encode() + b"\0" + sources[fname].encode() + b"\0")
    pinned = sorted((str(r["kind"]), str(r["ref"]), int(r["definition_id"])) for r in references)
    if pinned:
        digest.update(b"references\0" + json.dumps(pinned).encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Roots:
    """The parsed XML of a bundle's files, by kind."""

    bpmn: dict[str, etree._Element]
    dmn: dict[str, etree._Element]

    @classmethod
    def of(cls, sources: Mapping[str, str]) -> Roots:
        if not sources:
            raise DeployError(_("no BPMN file given"))
        bpmn: dict[str, etree._Element] = {}
        dmn: dict[str, etree._Element] = {}
        for fname, text in sources.items():
            root = parse_xml(fname, text)
            (bpmn if kind_of(fname, root) == "bpmn" else dmn)[fname] = root
        return cls(bpmn, dmn)

    def process_ids(self, *, executable_only: bool = False) -> list[str]:
        return [
            str(p.get("id")) for root in self.bpmn.values() for p in root.iter(f"{{{BPMN_NS}}}process")
            if p.get("id") and (not executable_only or p.get("isExecutable") == "true")
        ]  # fmt: skip

    def decision_ids(self) -> list[str]:
        return [
            str(d.get("id")) for root in self.dmn.values()
            for d in root.findall(f"{{{etree.QName(root).namespace}}}decision") if d.get("id")
        ]  # fmt: skip


def static_checks(
    roots: Roots, functions: Mapping[str, Callable[..., Any]], *, collect: bool = False, shapes: bool = True
) -> None:
    """The checks of every file on its own, before anything is parsed or looked up; without ``shapes``,
    not what the schema allows and the engine cannot run (:func:`~workflows_bpmn.refusals.shape_refusals`)."""
    found = Findings(collect=collect)
    defined: dict[str, str] = {}  # process id -> the file that defines it first
    for fname, root in roots.bpmn.items():
        check_bpmn(fname, root, functions, found)
        for element, text in [*(shape_refusals(fname, root) if shapes else []), *schema_refusals(fname, root, "bpmn")]:
            found.refuse(fname, element, text)
        for process in root.iter(f"{{{BPMN_NS}}}process"):
            ident = str(process.get("id") or "")
            if ident in defined:
                found.refuse(fname, process, _("{file}: process '{id}' is defined in {other} too", file=fname,
                                               id=ident, other=defined[ident]))  # fmt: skip
            elif ident:
                defined[ident] = fname
    for fname, root in roots.dmn.items():
        check_dmn(fname, root, functions, found)
        for element, text in schema_refusals(fname, root, "dmn"):
            found.refuse(fname, element, text)
    found.raise_any()


def _spiff_error(what: str, exc: Exception, roots: Roots) -> DeployError:
    """SpiffWorkflow's parser errors, the one place they become ours (in words, see
    :mod:`workflows_bpmn.refusals`); its ValidationException names the element. Besides its own
    exceptions it lets Python's escape on files it does not expect."""
    named = getattr(exc, "file_name", None)
    file = named if named in roots.bpmn or named in roots.dmn else what
    every = {**roots.bpmn, **roots.dmn}
    element, text = spiff_refusal(file, exc, [every[file]] if file in every else list(every.values()))
    return DeployError(text, file=file, element=element)


_PARSER_ERRORS = (ValidationException, SpiffWorkflowException, LookupError, TypeError, ValueError, AttributeError,
                  AssertionError, etree.LxmlError)  # fmt: skip


def parse_bundle(
    sources: Mapping[str, str],
    functions: Mapping[str, Callable[..., Any]],
    process_id: str | None = None,
    *,
    dependencies: Mapping[str, str] | None = None,
    references: list[dict[str, Any]] | None = None,
    collect: bool = False,
    deployed: bool = False,
) -> ParsedBundle:
    """Check every source, then parse them together; return the process (or decision) to deploy.

    ``dependencies`` are the sources of definitions deployed on their own that this bundle calls
    (checked when they were deployed; see :mod:`workflows_bpmn.references`), ``references`` what
    they were resolved to. A bundle of one DMN file is a decision table deployed on its own. A
    ``deployed`` definition (loaded for its running cases) is not refused again for what the checks
    added since it was deployed find in it: what ran must go on running.
    """
    roots = Roots.of(sources)
    static_checks(roots, functions, collect=collect, shapes=not deployed)
    parser = HuijuBpmnParser(validator=VALIDATOR)
    for fname, root in [*roots.dmn.items(), *roots.bpmn.items()]:
        try:
            if fname in roots.bpmn:
                parser.add_bpmn_xml(root, filename=fname)
            else:
                parser.add_dmn_xml(root, filename=fname)
        except _PARSER_ERRORS as exc:
            raise _spiff_error(fname, exc, roots) from exc
    pinned = list(references or [])
    if not roots.bpmn:
        return _decision_bundle(sources, roots, pinned)
    try:
        executable = parser.get_process_ids()
    except _PARSER_ERRORS as exc:
        raise _spiff_error(", ".join(sources), exc, roots) from exc
    for fname, text in (dependencies or {}).items():
        root = parse_xml(fname, text)
        try:
            if kind_of(fname, root) == "bpmn":
                parser.add_bpmn_xml(root, filename=fname)
            else:
                parser.add_dmn_xml(root, filename=fname)
        except _PARSER_ERRORS as exc:
            raise _spiff_error(fname, exc, roots) from exc
    if process_id is None:
        if not executable:
            raise DeployError(_('no executable process: mark the one to deploy isExecutable="true"'))
        if len(executable) != 1:
            raise DeployError(
                _("expected one executable process, found {found}: deploy one process per file set (a process "
                  "it calls is deployed on its own and found by its id)", found=", ".join(executable))
            )  # fmt: skip
        process_id = executable[0]
    elif process_id not in executable:
        raise DeployError(
            _("process '{process_id}' is not defined (found {found})", process_id=process_id,
              found=", ".join(executable) or "-")
        )  # fmt: skip
    try:
        spec = parser.get_spec(process_id)
        subprocess_specs = parser.get_subprocess_specs(process_id)
    except _PARSER_ERRORS as exc:
        raise _spiff_error(", ".join(sources), exc, roots) from exc
    connect_loops(spec, *subprocess_specs.values())
    name = getattr(spec, "description", None) or spec.name or process_id
    return ParsedBundle(
        process_id=process_id,
        name=name,
        sources=dict(sources),
        content_hash=content_hash(sources, pinned),
        spec=spec,
        subprocess_specs=subprocess_specs,
        references=pinned,
    )


def _decision_bundle(sources: Mapping[str, str], roots: Roots, references: list[dict[str, Any]]) -> ParsedBundle:
    """A decision table deployed on its own: one DMN file, known by its decision's id."""
    if len(roots.dmn) != 1:
        raise DeployError(
            _("no BPMN file given (only DMN): deploy a decision table on its own, one DMN file at a time")
        )
    ((fname, root),) = roots.dmn.items()
    decision = root.find(f"{{{etree.QName(root).namespace}}}decision")
    assert decision is not None  # noqa: S101 - check_dmn refused a file without one
    ident = str(decision.get("id") or "")
    return ParsedBundle(
        process_id=ident,
        name=decision.get("name") or root.get("name") or ident,
        sources=dict(sources),
        content_hash=content_hash(sources, references),
        spec=None,
        subprocess_specs={},
        kind=DefinitionKind.DMN,
        references=references,
    )
