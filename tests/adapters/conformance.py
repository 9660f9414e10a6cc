"""Messages checked against the contracts: the exchange header against ``exchange_header.xsd`` and the
operation element against the schema in the system's WSDL (as shipped, importing the header schema)."""

from __future__ import annotations

import copy
import functools

from lxml import etree

from adapters.contracts import CONTRACTS, WSDL_NS, XSD_NS, header_schema
from adapters.soapserver import SOAP_ENV, safe_parser
from certs.xmlsig import EXCHANGE_NS


@functools.cache
def operation_schema(system: str) -> etree.XMLSchema:
    path = CONTRACTS[system].wsdl_path
    found = etree.parse(str(path)).getroot().find(f"{{{WSDL_NS}}}types/{{{XSD_NS}}}schema")  # noqa: S320 - ours
    assert found is not None
    # A document of its own, with the namespaces it inherits from wsdl:definitions (its QName values
    # use them) and its import of exchange_header.xsd pointed at the file beside the WSDL.
    schema = etree.Element(found.tag, attrib=dict(found.attrib), nsmap=found.nsmap)
    schema.extend(copy.deepcopy(child) for child in found)
    for node in schema.iter(f"{{{XSD_NS}}}import"):
        node.set("schemaLocation", (path.parent / str(node.get("schemaLocation"))).as_uri())
    return etree.XMLSchema(schema)


def problems(system: str, envelope: bytes) -> list[str]:
    """What the contracts find wrong with a request or reply envelope (an empty list: it conforms)."""
    root = etree.fromstring(envelope, parser=safe_parser())
    found: list[str] = []
    headers = root.findall(f"{{{SOAP_ENV}}}Header/{{{EXCHANGE_NS}}}ExchangeHeader")
    if len(headers) != 1:
        found.append(f"{len(headers)} ExchangeHeaders")
    for header in headers:
        if not header_schema().validate(etree.ElementTree(header)):
            found.append(str(header_schema().error_log.last_error))
    body = root.find(f"{{{SOAP_ENV}}}Body")
    assert body is not None
    for payload in body:
        if payload.tag == f"{{{SOAP_ENV}}}Fault":
            continue
        schema = operation_schema(system)
        if not schema.validate(etree.ElementTree(payload)):
            found.append(str(schema.error_log.last_error))
    return found
