"""What the XML parser, the BPMN and DMN schemas and SpiffWorkflow refuse in an upload, said in words.

Their own reports are English, name elements in Clark notation
(``{http://www.omg.org/spec/BPMN/20100524/MODEL}endEvent``) and the schema's types (``xs:IDREF``),
or are Python reprs. An administrator reads instead what is wrong and where: the element (its kind,
id and line), the attribute, the value. The kinds of report (libxml2's error types, SpiffWorkflow's
refusals) map onto a few sentences; a report no sentence covers still names its element and line, and
its own text goes to the log only.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from functools import lru_cache

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS
from SpiffWorkflow.spiff.parser import VALIDATOR

from huiju import durations
from huiju.i18n import Message, _

log = logging.getLogger(__name__)

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
#: How many schema refusals of one file are reported: the first ones say what to mend first.
MAX_SCHEMA_REFUSALS = 20

_E = etree.ErrorTypes
#: What is wrong with XML that does not parse, by libxml2's error code.
_SYNTAX: dict[int, Message] = {
    _E.ERR_TAG_NAME_MISMATCH: _("a closing tag does not match the element it closes"),
    _E.ERR_TAG_NOT_FINISHED: _("an element is not closed"),
    _E.ERR_GT_REQUIRED: _("a tag is not finished with '>'"),
    _E.ERR_LTSLASH_REQUIRED: _("an element is not closed"),
    _E.ERR_DOCUMENT_END: _("something follows the end of the document"),
    _E.ERR_ATTRIBUTE_REDEFINED: _("an element gives the same attribute twice"),
    _E.ERR_ATTRIBUTE_NOT_STARTED: _("an attribute's value is not in quotes"),
    _E.ERR_ATTRIBUTE_WITHOUT_VALUE: _("an attribute has no value"),
    _E.ERR_LT_IN_ATTRIBUTE: _("a '<' stands in an attribute's value (write &lt;)"),
    _E.ERR_NAME_REQUIRED: _("a '<' or '&' stands in the text (write &lt; or &amp;)"),
    _E.ERR_ENTITYREF_SEMICOL_MISSING: _("a '&' stands in the text (write &amp;)"),
    _E.ERR_UNDECLARED_ENTITY: _("a '&' stands in the text (write &amp;)"),
    _E.ERR_INVALID_CHAR: _("a character that XML does not allow"),
    _E.ERR_INVALID_ENCODING: _("bytes that are not UTF-8 text (save the file as UTF-8)"),
    _E.ERR_UNKNOWN_ENCODING: _("an encoding the file declares that is not known (save the file as UTF-8)"),
    _E.ERR_UNSUPPORTED_ENCODING: _("an encoding the file declares that is not known (save the file as UTF-8)"),
    _E.NS_ERR_UNDEFINED_NAMESPACE: _("a prefix whose namespace is not declared (xmlns:...)"),
    _E.ERR_SPACE_REQUIRED: _("a space is missing between attributes"),
    _E.ERR_ATTRIBUTE_NOT_FINISHED: _("an attribute's value is not closed by its quote"),
}


def not_xml(file: str, data: bytes, exc: etree.XMLSyntaxError) -> Message:
    """Why a file is not XML that parses: empty, not XML at all, or broken at a line and column."""
    text = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text:
        return _("{file}: the file is empty", file=file)
    if not text.startswith(b"<"):
        return _("{file}: not an XML file: BPMN and DMN files are XML, as a process modeler saves them", file=file)
    line, column = exc.position if exc.position else (exc.lineno or 0, 0)
    what = _SYNTAX.get(exc.code)
    if what is None:
        log.info("XML syntax error in %s: %s", file, exc)
        return _("{file}: the XML is broken at line {line}, column {column}", file=file, line=line, column=column)
    return _("{file}: the XML is broken at line {line}, column {column}: {what}", file=file, line=line,
             column=column, what=what)  # fmt: skip


def foreign_root(file: str, root: etree._Element) -> Message:
    """Why a file is neither BPMN 2.0 nor DMN, by what its root element is: the files of other
    standards that administrators upload for BPMN 2.0 are named."""
    qname = etree.QName(root)
    namespace = qname.namespace
    if namespace is None:
        return _("{file}: neither a BPMN 2.0 nor a DMN file: its root element <{root}> is in no namespace", file=file,
                 root=qname.localname)  # fmt: skip
    if namespace.startswith("http://schema.omg.org/spec/BPMN/"):
        return _("{file}: written for a draft of BPMN 2.0 ({namespace}), not BPMN 2.0 itself: save it again from a "
                 "BPMN 2.0 modeler", file=file, namespace=namespace)  # fmt: skip
    if namespace.startswith("http://www.wfmc.org/"):
        return _("{file}: an XPDL file (the exchange format of BPMN 1.x), not BPMN 2.0: export the process from the "
                 "modeler as BPMN 2.0 XML", file=file)  # fmt: skip
    if "omg.org/spec/DMN/" in namespace:
        return _("{file}: a DMN version that the engine does not read ({namespace}): save it as DMN 1.3", file=file,
                 namespace=namespace)  # fmt: skip
    return _("{file}: neither a BPMN 2.0 nor a DMN file: its root element <{root}> is of the namespace {namespace}",
             file=file, root=qname.localname, namespace=namespace)  # fmt: skip


def where(element: etree._Element) -> Message:
    """An element as the modeler shows it: its kind, its id, its line."""
    local = etree.QName(element).localname
    ident = element.get("id")
    if ident:
        return _("{element} '{id}' (line {line})", element=local, id=ident, line=element.sourceline)
    return _("{element} (line {line})", element=local, line=element.sourceline)


# -- the schemas ------------------------------------------------------------------------------------------


_SCHEMA_LOCK = threading.Lock()


@lru_cache(maxsize=8)
def _dmn_schema(namespace: str) -> etree.XMLSchema | None:
    path = DMN_SCHEMAS.get(namespace)
    return BpmnValidator(path).validator if path is not None else None


#: Words for the values a schema type allows.
_TYPES: dict[str, Message] = {
    "xs:boolean": _("true or false"),
    "xs:ID": _("an id: a letter or '_' first, then letters, digits, '_', '-' or '.', no spaces"),
    "xs:IDREF": _("the id of an element of the file"),
    "xs:QName": _("the id of an element of the file"),
    "xs:integer": _("a whole number"),
    "xs:int": _("a whole number"),
    "xs:nonNegativeInteger": _("a whole number of 0 or more"),
    "xs:positiveInteger": _("a whole number of 1 or more"),
    "xs:double": _("a number"),
    "xs:decimal": _("a number"),
    "xs:anyURI": _("a URI"),
}
_CLARK = re.compile(r"\{[^}]*\}")
_QUOTED = re.compile(r"'([^']*)'")
_ATTRIBUTE = re.compile(r"attribute '([^']+)'")
_UNDECLARED_PREFIX = re.compile(r"The QName value '(.*)' has no corresponding namespace declaration")
_REQUIRED = re.compile(r"The attribute '([^']+)' is required")
_VALUE_TYPE = re.compile(r": '(.*)' is not a valid value of the \w+ type '([^']+)'")
_ENUMERATION = re.compile(r"The value '(.*)' is not an element of the set \{(.*)\}")
_EXPECTED = re.compile(r"Expected is(?: one of)? \((.*)\)")


def _local(name: str) -> str:
    return _CLARK.sub("", name).strip()


def _element_at(root: etree._Element, entry: etree._LogEntry) -> etree._Element:
    """The element a schema report is about, by its path (the line where the path is ambiguous)."""
    namespaces = {k: v for k, v in root.nsmap.items() if k}
    try:
        found = root.getroottree().xpath(entry.path, namespaces=namespaces)
    except etree.XPathError:
        found = []
    elements = [e for e in found if isinstance(e, etree._Element)] if isinstance(found, list) else []
    if elements:
        return elements[0]
    on_line = [e for e in root.iter() if isinstance(e.tag, str) and e.sourceline == entry.line]
    return on_line[-1] if on_line else root


def _marked(element: etree._Element) -> etree._Element:
    """The element the modeler marks for a refusal: the BPMN or DMN element an extension belongs to."""
    found: etree._Element | None = element
    while found is not None:
        if etree.QName(found).namespace == etree.QName(element.getroottree().getroot()).namespace and found.get("id"):
            return found
        found = found.getparent()
    return element


def schema_refusals(file: str, root: etree._Element, kind: str) -> list[tuple[etree._Element, Message]]:
    """The file against the BPMN 2.0 (or its DMN version's) schema: each refusal with its element."""
    if kind == "bpmn":
        schema: etree.XMLSchema | None = VALIDATOR.validator
        VALIDATOR.preprocess(root)  # as SpiffWorkflow does before it validates (bpmn-js correlation keys)
        standard = "BPMN 2.0"
    else:
        schema = _dmn_schema(str(etree.QName(root).namespace))
        standard = "DMN"
    if schema is None:
        return []
    with _SCHEMA_LOCK:  # a schema keeps the log of its last validation: one at a time per process
        if schema.validate(root):
            return []
        entries = list(schema.error_log)
    ids: dict[str, etree._Element] = {}
    for element in root.iter():
        if isinstance(element.tag, str) and element.get("id"):
            ids.setdefault(str(element.get("id")), element)
    refusals: list[tuple[etree._Element, Message]] = []
    seen: set[tuple[int, str]] = set()
    for entry in entries:
        element = _element_at(root, entry)
        text = _schema_words(file, element, entry, standard, ids)
        key = (id(element), text.msgid + repr(sorted(text.params.items(), key=lambda kv: kv[0])))
        if key not in seen:
            seen.add(key)
            refusals.append((_marked(element), text))
        if len(refusals) >= MAX_SCHEMA_REFUSALS:
            break
    return refusals


def _schema_words(
    file: str, element: etree._Element, entry: etree._LogEntry, standard: str, ids: dict[str, etree._Element]
) -> Message:
    kind, message, here = entry.type_name, entry.message, where(element)
    attribute = _local(m.group(1)) if (m := _ATTRIBUTE.search(message)) else ""
    if kind == "SCHEMAV_CVC_COMPLEX_TYPE_4":
        needed = _local(m.group(1)) if (m := _REQUIRED.search(message)) else attribute
        return _("{file}: {where} lacks the attribute {attribute}, which {standard} requires", file=file,
                 where=here, attribute=needed, standard=standard)  # fmt: skip
    if kind.startswith("SCHEMAV_CVC_COMPLEX_TYPE_3_2"):
        return _("{file}: {where}: {standard} has no attribute {attribute} on this element", file=file, where=here,
                 standard=standard, attribute=attribute)  # fmt: skip
    if kind == "SCHEMAV_CVC_ENUMERATION_VALID" and (m := _ENUMERATION.search(message)):
        allowed = ", ".join(_QUOTED.findall(m.group(2)))
        return _("{file}: {where}: {attribute} '{value}' is not one of {allowed}", file=file, where=here,
                 attribute=attribute or _("the text"), value=m.group(1), allowed=allowed)  # fmt: skip
    if kind.startswith("SCHEMAV_CVC_DATATYPE_VALID") and (m := _UNDECLARED_PREFIX.search(message)):
        return _("{file}: {where}: {attribute} '{value}' has a prefix whose namespace is not declared (xmlns:...)",
                 file=file, where=here, attribute=attribute, value=m.group(1))  # fmt: skip
    if kind.startswith("SCHEMAV_CVC_DATATYPE_VALID") and (m := _VALUE_TYPE.search(message)):
        value, xs_type = m.group(1), m.group(2)
        other = ids.get(value)
        if xs_type == "xs:ID" and other is not None and other is not element:
            return _("{file}: {where}: the id '{id}' is taken already by {other}", file=file, where=here, id=value,
                     other=where(other))  # fmt: skip
        expected = _TYPES.get(xs_type, _("a value of another kind"))
        if attribute:
            return _("{file}: {where}: {attribute} '{value}' must be {expected}", file=file, where=here,
                     attribute=attribute, value=value, expected=expected)  # fmt: skip
        return _("{file}: {where}: its text '{value}' must be {expected}", file=file, where=here, value=value,
                 expected=expected)  # fmt: skip
    if kind == "SCHEMAV_ELEMENT_CONTENT":
        listed = _EXPECTED.search(message)
        names = ", ".join(dict.fromkeys(_local(n) for n in listed.group(1).split(","))) if listed else ""
        if "Missing child" in message:
            return _("{file}: {where} lacks an element it must hold ({expected})", file=file, where=here,
                     expected=names or "-")  # fmt: skip
        parent = element.getparent()
        inside = where(parent) if parent is not None else _("the file")
        local = etree.QName(element).localname
        if etree.QName(element).namespace == BPMN_NS and local not in _bpmn_element_names():
            return _("{file}: {where}: BPMN 2.0 has no element {element}", file=file, where=here, element=local)
        if not names:
            return _("{file}: {where} may not stand here, inside {parent}", file=file, where=here, parent=inside)
        return _("{file}: {where} may not stand here, inside {parent} (in its place: {expected})", file=file,
                 where=here, parent=inside, expected=names)  # fmt: skip
    if kind == "SCHEMAV_CVC_COMPLEX_TYPE_2_3":
        return _("{file}: {where} holds text where only elements may stand", file=file, where=here)
    if kind == "SCHEMAV_CVC_COMPLEX_TYPE_2_1":
        return _("{file}: {where} must be empty", file=file, where=here)
    if kind == "SCHEMAV_CVC_COMPLEX_TYPE_2_2":
        return _("{file}: {where} may hold text only, no elements", file=file, where=here)
    log.info("schema refusal in %s, line %s: %s (%s)", file, entry.line, message, kind)
    return _("{file}: {where} does not follow the {standard} schema", file=file, where=here, standard=standard)


@lru_cache(maxsize=1)
def _bpmn_element_names() -> frozenset[str]:
    """The elements the BPMN 2.0 schema declares (its global element declarations)."""
    from SpiffWorkflow.bpmn.parser.BpmnParser import XSD_PATH

    folder = XSD_PATH.rsplit("/", 1)[0]
    names: set[str] = set()
    for xsd in ("Semantic.xsd", "BPMN20.xsd"):
        try:
            tree = etree.parse(f"{folder}/{xsd}", etree.XMLParser(resolve_entities=False, no_network=True))
        except (OSError, etree.XMLSyntaxError):
            continue
        names.update(str(e.get("name")) for e in tree.iter("{http://www.w3.org/2001/XMLSchema}element")
                     if e.get("name"))  # fmt: skip
    return frozenset(names)


# -- SpiffWorkflow ----------------------------------------------------------------------------------------

#: SpiffWorkflow's refusals that the static checks do not say first, by how its English text begins.
_SPIFF: tuple[tuple[str, Message], ...] = (
    ("Non-default exclusive outgoing sequence flow without condition",
     _("a flow out of a gateway needs a condition, unless it is the gateway's default flow")),
    ("Multiple outgoing flows are not supported",
     _("it has several outgoing flows: only a gateway may split the flow")),
    ("Exactly one start event is required", _("it must hold exactly one start event")),
    ("A SubWorkflow Must contain an End event", _("it must hold an end event")),
    ('No "calledElement" attribute', _("a call activity must name what it calls (calledElement)")),
    ("A Service Task must have an operator",
     _("a service task must name its operation (spiffworkflow:serviceTaskOperator)")),
    ("Could not find messageRef", _("it refers to a message that the file does not define")),
    ("Expected a Signal node", _("it refers to a signal that the file does not define")),
    ("Conditional event definition with missing condition", _("a conditional event needs a condition")),
    ("Cancel Events may only be used with transactions", _("a cancel event may only be attached to a transaction")),
    ("Unknown Time Specification", _("a timer must say when it fires (timeDuration, timeDate or timeCycle)")),
    ("Time Specification Error", _("a timer must say when it fires (timeDuration, timeDate or timeCycle)")),
    ("There is no support implemented for this task type", _("the engine does not run elements of this kind")),
    ("Sequential ordering for ad hoc subprocesses not supported", _("an ad hoc sub-process may not be sequential")),
    ("Ad hoc subprocesses may not contain start or end events",
     _("an ad hoc sub-process may not hold start or end events")),
    ("Cannot resolve dataInputAssociation", _("it reads a data object that is not defined")),
    ("Cannot resolve dataOutputAssociation", _("it writes a data object that is not defined")),
    ("Data Store with name", _("the engine knows no data store of this name")),
)  # fmt: skip


def spiff_refusal(file: str, exc: Exception, roots: Iterable[etree._Element]) -> tuple[str | None, Message]:
    """SpiffWorkflow's refusal (or a Python error it let escape) as words naming the element."""
    ident = getattr(exc, "id", None) or None
    element = next((e for root in roots for e in root.iter() if isinstance(e.tag, str) and ident
                    and e.get("id") == ident), None)  # fmt: skip
    here: Message | str = where(element) if element is not None else _("the file")
    text = " ".join(str(exc).split())
    log.info("SpiffWorkflow refused %s: %s: %s", file, type(exc).__name__, text)
    if isinstance(exc, ValidationException):
        for start, problem in _SPIFF:
            if text.startswith(start):
                return ident, _("{file}: {where}: {problem}", file=file, where=here, problem=problem)
    return ident, _("{file}: {where}: the engine cannot read this element as it is written", file=file, where=here)


# -- what the schema allows but the engine cannot run -------------------------------------------------------

#: Longest texts the engine's tables keep (workflows_bpmn.models): a process's id and name, a step's
#: id and name (a user task is mirrored into the inbox by both), a message's name.
MAX_ID, MAX_NAME, MAX_MESSAGE_NAME = 100, 200, 100
#: Elements the engine finds by their id, which the schema lets go without one.
_NEED_ID = ("process", "message", "signal", "error", "escalation", "correlationProperty", "sequenceFlow",
            "startEvent", "endEvent", "userTask", "manualTask", "serviceTask", "task", "sendTask", "receiveTask",
            "businessRuleTask", "callActivity", "subProcess", "transaction", "exclusiveGateway",
            "inclusiveGateway", "parallelGateway", "eventBasedGateway", "intermediateCatchEvent",
            "intermediateThrowEvent", "boundaryEvent")  # fmt: skip
_GATEWAYS = ("exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway")
_ACTIVITIES = frozenset({"task", "userTask", "manualTask", "serviceTask", "sendTask", "receiveTask",
                         "scriptTask", "businessRuleTask", "callActivity", "subProcess", "transaction",
                         "adHocSubProcess"})  # fmt: skip


def _q(local: str) -> str:
    return f"{{{BPMN_NS}}}{local}"


def shape_refusals(file: str, root: etree._Element) -> list[tuple[etree._Element, Message]]:
    """What the BPMN 2.0 schema lets pass and the engine cannot run: an element it finds by id
    without one, a gateway that leads nowhere, a boundary event on no activity, a timer whose
    literal is no ISO 8601 time, names longer than the engine's tables keep."""
    refusals: list[tuple[etree._Element, Message]] = []
    for local in _NEED_ID:
        for element in root.iter(_q(local)):
            if not (element.get("id") or "").strip():
                refusals.append((element, _("{file}: {where} has no id; the engine finds it by its id", file=file,
                                            where=where(element))))  # fmt: skip
    for element in root.iter(*(_q(t) for t in ("process", *_ACTIVITIES, *_GATEWAYS, "startEvent", "endEvent",
                                               "intermediateCatchEvent", "intermediateThrowEvent",
                                               "boundaryEvent"))):  # fmt: skip
        ident, name = element.get("id") or "", element.get("name") or ""
        if len(ident) > MAX_ID:
            refusals.append((element, _("{file}: {element} (line {line}): its id is {length} characters long; at "
                                        "most {limit}", file=file, element=etree.QName(element).localname,
                                        line=element.sourceline, length=len(ident), limit=MAX_ID)))  # fmt: skip
        if len(name) > MAX_NAME:
            refusals.append((element, _("{file}: {where}: its name is {length} characters long; at most {limit}",
                                        file=file, where=where(element), length=len(name),
                                        limit=MAX_NAME)))  # fmt: skip
    for element in root.iter(_q("message")):
        if len(element.get("name") or "") > MAX_MESSAGE_NAME:
            refusals.append((element, _("{file}: {where}: its name is {length} characters long; at most {limit}",
                                        file=file, where=where(element), length=len(element.get("name") or ""),
                                        limit=MAX_MESSAGE_NAME)))  # fmt: skip
    for container in root.iter(_q("process"), _q("subProcess"), _q("transaction"), _q("adHocSubProcess")):
        sources = {flow.get("sourceRef") for flow in container.findall(_q("sequenceFlow"))}
        children = {str(c.get("id")): c for c in container if isinstance(c.tag, str) and c.get("id")}
        for gateway in (c for c in container if isinstance(c.tag, str) and etree.QName(c).localname in _GATEWAYS):
            if gateway.get("id") not in sources:
                refusals.append((gateway, _("{file}: {where} has no outgoing flow: a gateway must lead somewhere",
                                            file=file, where=where(gateway))))  # fmt: skip
        for event in container.findall(_q("boundaryEvent")):
            ref = (event.get("attachedToRef") or "").split(":")[-1]
            host = children.get(ref)
            if ref and (host is None or etree.QName(host).localname not in _ACTIVITIES):
                refusals.append((event, _("{file}: {where} is attached to '{ref}', which is not an activity of its "
                                          "process", file=file, where=where(event), ref=ref)))  # fmt: skip
    refusals.extend(_reference_refusals(file, root))
    refusals.extend(_timer_refusals(file, root))
    return refusals


def _reference_refusals(file: str, root: etree._Element) -> list[tuple[etree._Element, Message]]:
    """An event names a message, error, signal or escalation the file defines; an event-based gateway
    leads to what waits for an event."""
    refusals: list[tuple[etree._Element, Message]] = []
    for definition, attribute, target in (("messageEventDefinition", "messageRef", "message"),
                                          ("errorEventDefinition", "errorRef", "error"),
                                          ("signalEventDefinition", "signalRef", "signal"),
                                          ("escalationEventDefinition", "escalationRef", "escalation")):  # fmt: skip
        defined = {str(e.get("id")) for e in root.iter(_q(target)) if e.get("id")}
        for element in root.iter(_q(definition)):
            ref = (element.get(attribute) or "").split(":")[-1]
            if ref and ref not in defined:
                owner = element.getparent() if element.getparent() is not None else element
                refusals.append((owner, _("{file}: {where} names {attribute} '{ref}', which the file does not define",
                                          file=file, where=where(owner), attribute=attribute, ref=ref)))  # fmt: skip
    for container in root.iter(_q("process"), _q("subProcess"), _q("transaction")):
        children = {str(c.get("id")): c for c in container if isinstance(c.tag, str) and c.get("id")}
        for gateway in container.findall(_q("eventBasedGateway")):
            for flow in container.findall(_q("sequenceFlow")):
                leads_to = children.get(flow.get("targetRef") or "")
                if flow.get("sourceRef") != gateway.get("id") or leads_to is None:
                    continue
                if etree.QName(leads_to).localname not in ("intermediateCatchEvent", "receiveTask"):
                    refusals.append((gateway, _(
                        "{file}: {where} leads to {target}: an event-based gateway must lead to what waits for an "
                        "event (an intermediate catch event or a receive task)", file=file, where=where(gateway),
                        target=where(leads_to))))  # fmt: skip
    return refusals


_ISO_DURATION = re.compile(r"^\s*P[^\s]*\d", re.IGNORECASE)


def _timer_refusals(file: str, root: etree._Element) -> list[tuple[etree._Element, Message]]:
    """A timer written as a quoted literal must be an ISO 8601 duration or date-time (an expression
    is known only at run time; the restricted evaluator checks it)."""
    import ast
    from datetime import datetime

    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

    refusals: list[tuple[etree._Element, Message]] = []
    for tag, example in (("timeDuration", '"PT1H"'), ("timeDate", '"2026-12-01T09:00:00+08:00"')):
        for element in root.iter(_q(tag)):
            try:
                value = ast.literal_eval((element.text or "").strip())
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
            event = element.getparent().getparent() if element.getparent() is not None else None
            owner = event if event is not None else element
            try:
                if not isinstance(value, str) or (tag == "timeDuration" and not _ISO_DURATION.match(value)):
                    raise TypeError(value)
                if tag == "timeDuration":
                    TimerEventDefinition.parse_iso_duration(value)
                else:
                    datetime.fromisoformat(value)
            except Exception:  # noqa: BLE001 - SpiffWorkflow raises bare Exception for a bad duration
                worded = duration_in_words(file, owner, value) if tag == "timeDuration" else None
                refusals.append((owner, worded or _(
                    "{file}: {where}: '{value}' is not an ISO 8601 time such as {example}", file=file,
                    where=where(owner), value=str(value)[:80], example=example)))  # fmt: skip
    return refusals


def duration_in_words(file: str, event: etree._Element, written: object) -> Message | None:
    """For a timer's duration written as people say it ("3 天", "2 hours", or "PT2H" without its
    quotes): the refusal that gives the text to write instead, an ISO 8601 duration between quotes
    (what BPMN reads there is an expression). None for anything else."""
    text = str(written).strip() if isinstance(written, str) else ""
    iso = durations.from_words(text) if text and text[0] not in "\"'" else None
    if iso is None:
        return None
    return _("{file}: {where}: a timer's duration is written in ISO 8601, between quotes: for “{written}” write "
             "\"{iso}\"", file=file, where=where(event), written=text[:40], iso=iso)  # fmt: skip
