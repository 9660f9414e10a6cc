"""SOAP 1.1 envelope helpers for the server side: safe parsing, envelopes, faults.

The client side uses zeep; this module is what the sandbox (and any other Huiju SOAP endpoint)
uses to read untrusted XML: an explicit lxml parser with DTDs, entities and network access off,
a byte cap before parsing, and any DOCTYPE refused outright.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from adapters.contracts import EXCHANGE_NS
from certs.xmlsig import soap_version_problem

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
MAX_REQUEST_BYTES = 2 * 1024 * 1024
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
# Elements that the contracts declare as repeatable: always read as lists, even with one item.
LIST_ELEMENTS = frozenset({"param", "field", "member", "record"})


class SoapFault(Exception):
    """A SOAP 1.1 fault to answer with; ``code`` is ``Client``, ``Server`` or ``VersionMismatch``."""

    def __init__(self, code: str, string: str, detail: etree._Element | None = None) -> None:
        super().__init__(string)
        self.code = code
        self.string = string
        self.detail = detail


@dataclass(slots=True)
class SoapRequest:
    header: dict[str, str]
    header_element: etree._Element | None
    body: etree._Element
    namespace: str
    operation: str
    digest: str
    values: dict[str, Any] = field(default_factory=dict)
    signer: str | None = None  # the exchange member whose certificate signed it (secure mode)


def safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml(data: bytes, *, limit: int = MAX_REQUEST_BYTES) -> etree._Element:
    """Parse untrusted bytes or raise a Client fault that says why they were refused."""
    if len(data) > limit:
        raise SoapFault("Client", f"request too large (more than {limit} bytes)")
    if not data.strip():
        raise SoapFault("Client", "empty request")
    if _DOCTYPE.search(data):
        raise SoapFault("Client", "DOCTYPE declarations are not accepted")
    try:
        root = etree.fromstring(data, parser=safe_parser())
    except etree.XMLSyntaxError as exc:
        raise SoapFault("Client", f"request is not well-formed XML: {exc.msg}") from None
    if root.getroottree().docinfo.doctype:
        raise SoapFault("Client", "DOCTYPE declarations are not accepted")
    return root


def parse_request(data: bytes, *, limit: int = MAX_REQUEST_BYTES) -> SoapRequest:
    root = parse_xml(data, limit=limit)
    problem = soap_version_problem(root)
    if problem is not None:
        raise version_mismatch(str(problem))
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise SoapFault("Client", "not a SOAP 1.1 envelope")
    body = root.find(f"{{{SOAP_ENV}}}Body")
    if body is None or len(body) != 1:
        raise SoapFault("Client", "the SOAP Body must hold exactly one element")
    payload = body[0]
    qname = etree.QName(payload)
    header_element = root.find(f"{{{SOAP_ENV}}}Header/{{{EXCHANGE_NS}}}ExchangeHeader")
    header: dict[str, str] = {}
    if header_element is not None:
        header = {etree.QName(child).localname: (child.text or "").strip() for child in header_element}
    return SoapRequest(
        header=header,
        header_element=header_element,
        body=payload,
        namespace=qname.namespace or "",
        operation=qname.localname,
        digest=payload_digest(payload),
        values=to_dict(payload),
    )


def payload_digest(payload: etree._Element) -> str:
    """What makes two requests "the same request" for a receiver's journal: SHA-256 of the canonical
    (exc-c14n) operation element, the requestHash of the request (:func:`certs.xmlsig.request_hash`).
    A retry carries a new header timestamp, and when signed a new wsu:Id on the Body and a new
    wsu:Timestamp, but the same operation element."""
    return hashlib.sha256(etree.tostring(payload, method="c14n", exclusive=True)).hexdigest()


def version_mismatch(problem: str) -> SoapFault:
    """The SOAP 1.1 answer to an envelope of another version (SOAP 1.1 §4.4.1, and SOAP 1.2 Part 1
    Appendix A: a SOAP 1.1 node answers a SOAP 1.2 message with a SOAP 1.1 VersionMismatch fault)."""
    return SoapFault("VersionMismatch", f"request refused (version-mismatch): {problem}")


def to_dict(element: etree._Element) -> dict[str, Any]:
    """Children as a dict by local name; leaves as text; repeatable elements as lists."""
    out: dict[str, Any] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname
        value: Any = to_dict(child) if len(child) else (child.text or "")
        if name in LIST_ELEMENTS:
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    return out


def element(namespace: str, name: str, content: Any) -> etree._Element:
    """Build ``<name>`` in ``namespace`` from a dict (children, in order), a list or a scalar.

    A dict value that is a list becomes repeated elements; ``None`` values are left out (the
    contracts mark those elements ``minOccurs="0"``).
    """
    node = etree.Element(f"{{{namespace}}}{name}", nsmap={"tns": namespace})
    _fill(node, namespace, content)
    return node


def _fill(node: etree._Element, namespace: str, content: Any) -> None:
    if isinstance(content, dict):
        for key, value in content.items():
            items = value if isinstance(value, list) else [value]
            for item in items:
                if item is None:
                    continue
                child = etree.SubElement(node, f"{{{namespace}}}{key}")
                _fill(child, namespace, item)
    elif isinstance(content, bool):
        node.text = "true" if content else "false"
    elif content is not None:
        node.text = str(content)


def envelope(payload: etree._Element, header: etree._Element | None = None) -> bytes:
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    if header is not None:
        etree.SubElement(env, f"{{{SOAP_ENV}}}Header").append(_copy(header))
    etree.SubElement(env, f"{{{SOAP_ENV}}}Body").append(payload)
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def fault_element(fault: SoapFault) -> etree._Element:
    node = etree.Element(f"{{{SOAP_ENV}}}Fault", nsmap={"soap": SOAP_ENV})
    # SOAP 1.1: faultcode is a QName in the envelope namespace; the children are unqualified.
    etree.SubElement(node, "faultcode").text = f"soap:{fault.code}"
    etree.SubElement(node, "faultstring").text = fault.string
    if fault.detail is not None:
        etree.SubElement(node, "detail").append(_copy(fault.detail))
    return node


def fault_envelope(fault: SoapFault) -> bytes:
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    etree.SubElement(env, f"{{{SOAP_ENV}}}Body").append(fault_element(fault))
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def _copy(node: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(node), parser=safe_parser())
