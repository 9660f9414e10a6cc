"""Deploy-time checks of BPMN and DMN sources (what ``huiju process validate`` runs).

Uploaded definitions are untrusted. A file is refused, with a message that names the element, when
it is not XML, not BPMN/DMN, carries a DTD, holds a script task or a pre/post script, calls an
unknown service operation, puts a user task outside a known lane, or holds an expression that the
restricted evaluator would refuse. The sources are then parsed by SpiffWorkflow, so that what passes
here is exactly what the runner can load.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
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
class ParsedBundle:
    """Checked sources of one deployable process and what SpiffWorkflow made of them."""

    process_id: str
    name: str
    sources: dict[str, str]
    content_hash: str
    spec: Any
    subprocess_specs: dict[str, Any]


def _parse_xml(name: str, text: str) -> etree._Element:
    data = text.encode("utf-8")
    if len(data) > MAX_SOURCE_BYTES:
        raise DeployError(_("{file}: larger than {limit} KB", file=name, limit=MAX_SOURCE_BYTES // 1024))
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise DeployError(_("{file}: not well-formed XML: {error}", file=name, error=str(exc))) from exc
    if root.getroottree().docinfo.doctype:
        raise DeployError(_("{file}: a DOCTYPE is not allowed in process definitions", file=name))
    return root


def _where(element: etree._Element) -> Message:
    local = etree.QName(element).localname
    ident = element.get("id")
    if ident:
        return _("{element} '{id}' (line {line})", element=local, id=ident, line=element.sourceline)
    return _("{element} (line {line})", element=local, line=element.sourceline)


def _owner(element: etree._Element, levels: int = 2) -> etree._Element:
    """The element an extension belongs to (``levels`` up), or the highest ancestor there is: an
    extension element may sit anywhere in an uploaded file."""
    for _level in range(levels):
        parent = element.getparent()
        if parent is None:
            break
        element = parent
    return element


def _check_expr(name: str, element: etree._Element, text: str | None, functions: Mapping[str, Any]) -> None:
    if text is None or not text.strip():
        return
    try:
        check_expression(text, functions)
    except ExpressionError as exc:
        raise DeployError(_("{file}: {where}: {problem}", file=name, where=_where(element), problem=exc.text)) from exc


def check_bpmn(name: str, root: etree._Element, functions: Mapping[str, Callable[..., Any]]) -> None:
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise DeployError(
            _("{file}: not a BPMN 2.0 file (root element is {root})", file=name, root=etree.QName(root).localname)
        )
    for el in root.iter(f"{{{BPMN_NS}}}scriptTask"):
        raise DeployError(
            _("{file}: {where}: script tasks are not allowed; use a service task or a DMN", file=name, where=_where(el))
        )
    for tag in ("preScript", "postScript"):
        for el in root.iter(f"{{{SPIFF_NS}}}{tag}"):
            if (el.text or "").strip():
                raise DeployError(
                    _(
                        "{file}: {where}: {tag} is not allowed",
                        file=name,
                        where=_where(_owner(el)),
                        tag=tag,
                    )
                )
    for el in root.iter(f"{{{SPIFF_NS}}}serviceTaskOperator"):
        operation = el.get("id", "")
        task = _owner(el)
        if not adapter_registry.is_known(operation):
            raise DeployError(
                _(
                    "{file}: {where}: unknown service operation '{operation}'",
                    file=name,
                    where=_where(task),
                    operation=operation,
                )
            )
        for param in el.iter(f"{{{SPIFF_NS}}}parameter"):
            _check_expr(name, task, param.get("value"), functions)
    # Every element whose text SpiffWorkflow evaluates as an expression.
    for tag in (
        "conditionExpression", "condition", "timeDuration", "timeDate", "timeCycle",
        "loopCardinality", "completionCondition", "formalExpression", "messagePath",
    ):  # fmt: skip
        for el in root.iter(f"{{{BPMN_NS}}}{tag}"):
            _check_expr(name, el.getparent(), el.text, functions)
    for el in root.iter(f"{{{SPIFF_NS}}}messagePayload"):
        _check_expr(name, _owner(el), el.text, functions)
    for el in root.iter(f"{{{BPMN_NS}}}timeCycle"):
        _check_cycle(name, _owner(el, 1), el.text)
    lanes = {lane.get("id"): lane for lane in root.iter(f"{{{BPMN_NS}}}lane")}
    for el in root.iter(f"{{{BPMN_NS}}}userTask", f"{{{BPMN_NS}}}manualTask"):
        lane_names = [
            lane.get("name") or lid
            for lid, lane in lanes.items()
            if any((ref.text or "").strip() == el.get("id") for ref in lane.iter(f"{{{BPMN_NS}}}flowNodeRef"))
        ]
        if not lane_names:
            raise DeployError(
                _(
                    "{file}: {where}: a user task must sit in a lane ({lanes})",
                    file=name,
                    where=_where(el),
                    lanes=", ".join(LANE_ROLES),
                )
            )
    # Compared as strings, never put into an XPath: a reference may hold any character.
    user_tasks = {el.get("id") for el in root.iter(f"{{{BPMN_NS}}}userTask", f"{{{BPMN_NS}}}manualTask")}
    for lid, lane in lanes.items():
        has_user_task = any((ref.text or "").strip() in user_tasks for ref in lane.iter(f"{{{BPMN_NS}}}flowNodeRef"))
        if has_user_task and lane_role(lane.get("name") or lid) is None:
            raise DeployError(
                _(
                    "{file}: lane '{lane}' holds user tasks but is not one of {lanes}",
                    file=name,
                    lane=lane.get("name") or lid,
                    lanes=", ".join(LANE_ROLES),
                )
            )


#: The shortest interval a repeating timer may have: a zero or tiny one would wake the sweep on every
#: pass and fill the instance with fired timers.
MIN_TIMER_CYCLE = timedelta(minutes=1)


def _check_cycle(name: str, element: etree._Element, text: str | None) -> None:
    """A repeating timer (ISO 8601 ``R[n]/duration``) written as a literal must repeat at most once a minute."""
    try:
        value = ast.literal_eval((text or "").strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return  # an expression, checked by the restricted evaluator; its value is known only at run time
    if not isinstance(value, str):
        raise DeployError(_("{file}: {where}: a timer cycle must be a text such as \"R3/PT1H\"", file=name,
                            where=_where(element)))  # fmt: skip
    try:
        _cycles, _start, interval = TimerEventDefinition.parse_iso_recurring_interval(value)
    except Exception as exc:  # noqa: BLE001 - SpiffWorkflow raises bare Exception for a bad interval
        raise DeployError(
            _("{file}: {where}: '{cycle}' is not an ISO 8601 repeating interval such as \"R3/PT1H\"",
              file=name, where=_where(element), cycle=value[:80])
        ) from exc  # fmt: skip
    if interval < MIN_TIMER_CYCLE:
        raise DeployError(
            _("{file}: {where}: the timer repeats every {seconds} seconds; at least every {minimum} seconds",
              file=name, where=_where(element), seconds=round(interval.total_seconds(), 3),
              minimum=int(MIN_TIMER_CYCLE.total_seconds()))
        )  # fmt: skip


def lane_role(lane: str | None) -> str | None:
    """The role that works on a lane's tasks; lanes may be named 'community_officer (社区专干)'."""
    if lane is None:
        return None
    key = lane.split("(")[0].split("（")[0].strip()
    return LANE_ROLES.get(key)


def check_dmn(name: str, root: etree._Element, functions: Mapping[str, Callable[..., Any]]) -> None:
    ns = etree.QName(root).namespace
    if ns not in DMN_NAMESPACES or etree.QName(root).localname != "definitions":
        raise DeployError(_("{file}: not a DMN file", file=name))
    for table in root.iter(f"{{{ns}}}decisionTable"):
        inputs = []
        for column in table.findall(f"{{{ns}}}input"):
            text_el = column.find(f"{{{ns}}}inputExpression/{{{ns}}}text")
            expression = (text_el.text or "").strip() if text_el is not None else ""
            _check_expr(name, column, expression, functions)
            inputs.append(expression)
        for rule in table.findall(f"{{{ns}}}rule"):
            for position, cell in enumerate(rule.findall(f"{{{ns}}}inputEntry")):
                text_el = cell.find(f"{{{ns}}}text")
                text = (text_el.text or "").strip() if text_el is not None else ""
                if text in ("", "-") or position >= len(inputs):
                    continue
                _check_expr(name, cell, dmn_cell_expression(inputs[position], text), functions)
            for cell in rule.findall(f"{{{ns}}}outputEntry"):
                text_el = cell.find(f"{{{ns}}}text")
                _check_expr(name, cell, text_el.text if text_el is not None else None, functions)


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
    raise DeployError(
        _(
            "{file}: neither BPMN nor DMN (root element {root} in {namespace})",
            file=name,
            root=etree.QName(root).localname,
            namespace=ns,
        )
    )


def content_hash(sources: Mapping[str, str]) -> str:
    digest = hashlib.sha256()
    for fname in sorted(sources):
        digest.update(fname.encode() + b"\0" + sources[fname].encode() + b"\0")
    return digest.hexdigest()


@contextmanager
def _spiff_boundary(what: str) -> Iterator[None]:
    """SpiffWorkflow's parser, the one place its errors become ours. Besides its own exceptions it
    lets Python's escape on files it does not expect (an IndexError for a DMN without a decision, a
    TypeError for an attribute where it wants an element): all of them mean the file is refused."""
    try:
        yield
    except (ValidationException, SpiffWorkflowException) as exc:
        raise DeployError(_("{file}: {problem}", file=what, problem=_one_line(str(exc)))) from exc
    except (LookupError, TypeError, ValueError, AttributeError, AssertionError, etree.LxmlError) as exc:
        raise DeployError(
            _(
                "{file}: SpiffWorkflow cannot read it ({error})",
                file=what,
                error=_one_line(f"{type(exc).__name__}: {exc}"),
            )
        ) from exc


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def parse_bundle(
    sources: Mapping[str, str], functions: Mapping[str, Callable[..., Any]], process_id: str | None = None
) -> ParsedBundle:
    """Check every source, then parse them together; return the process that is to be deployed."""
    if not sources:
        raise DeployError(_("no BPMN file given"))
    parser = HuijuBpmnParser(validator=VALIDATOR)
    bpmn_roots = []
    for fname, text in sources.items():
        root = _parse_xml(fname, text)
        if kind_of(fname, root) == "bpmn":
            check_bpmn(fname, root, functions)
            with _spiff_boundary(fname):
                parser.add_bpmn_xml(root, filename=fname)
            bpmn_roots.append(root)
        else:
            check_dmn(fname, root, functions)
            with _spiff_boundary(fname):
                parser.add_dmn_xml(root, filename=fname)
    if not bpmn_roots:
        raise DeployError(_("no BPMN file given (only DMN)"))
    with _spiff_boundary(", ".join(sources)):
        executable = parser.get_process_ids()
    if process_id is None:
        if len(executable) != 1:
            raise DeployError(_("expected one executable process, found {found}", found=executable or "none"))
        process_id = executable[0]
    elif process_id not in executable:
        raise DeployError(
            _("process '{process_id}' is not defined (found {found})", process_id=process_id, found=executable)
        )
    with _spiff_boundary(f"process '{process_id}'"):
        spec = parser.get_spec(process_id)
        subprocess_specs = parser.get_subprocess_specs(process_id)
    connect_loops(spec, *subprocess_specs.values())
    name = getattr(spec, "description", None) or spec.name or process_id
    return ParsedBundle(
        process_id=process_id,
        name=name,
        sources=dict(sources),
        content_hash=content_hash(sources),
        spec=spec,
        subprocess_specs=subprocess_specs,
    )
