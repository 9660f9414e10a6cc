"""The SOAP 1.1 contracts Huiju defines, one per external system, and where they live.

The real systems' WSDLs are not public, so the files in ``adapters/wsdl/`` are the contract for
both sides: the zeep clients and the sandbox load them from that folder and from nowhere else.
The files import the exchange header's schema (``exchange_header.xsd``) from beside them; what a
server *serves* (:func:`served_wsdl`) is self-contained instead: the header schema inlined in
``wsdl:types``, so that any SOAP stack loads it from its one URL.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

WSDL_DIR = Path(__file__).resolve().parent / "wsdl"
EXCHANGE_NS = "urn:huiju:exchange:1"
EXCHANGE_HEADER_FILE = "exchange_header.xsd"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
PROTOCOL_VERSION = "1.0"
CLIENT_NAME = "huiju"


@dataclass(frozen=True, slots=True)
class Contract:
    system: str
    title: str
    namespace: str
    wsdl_file: str
    binding: str
    operations: tuple[str, ...]

    @property
    def binding_qname(self) -> str:
        return f"{{{self.namespace}}}{self.binding}"

    @property
    def wsdl_path(self) -> Path:
        return WSDL_DIR / self.wsdl_file


CONTRACTS: dict[str, Contract] = {
    c.system: c
    for c in (
        Contract(
            "citizen_info",
            "公民信息系统",
            "urn:huiju:gov:citizen-info:1",
            "citizen_info.wsdl",
            "CitizenInfoBinding",
            ("VerifyIdentity", "QueryPerson"),
        ),
        Contract(
            "sms",
            "短信平台",
            "urn:huiju:gov:sms:1",
            "sms.wsdl",
            "SmsBinding",
            ("SendSms", "QueryDelivery"),
        ),
        Contract(
            "egov_approval",
            "政务外网审批平台",
            "urn:huiju:gov:egov-approval:1",
            "egov_approval.wsdl",
            "EgovApprovalBinding",
            ("SubmitCase", "QueryCase"),
        ),
        Contract(
            "data_exchange",
            "数据交换平台",
            "urn:huiju:gov:data-exchange:1",
            "data_exchange.wsdl",
            "DataExchangeBinding",
            ("PublishRecord", "QueryRecords"),
        ),
        # O2O orders only: the part the service credit does not cover is paid here.
        Contract(
            "payment",
            "支付平台",
            "urn:huiju:payment:1",
            "payment.wsdl",
            "PaymentBinding",
            ("CreatePayment", "QueryPayment", "Refund"),
        ),
    )
}

# Every file a client or the sandbox may read; anything else is refused, even in WSDL_DIR.
CONTRACT_FILES: frozenset[str] = frozenset({EXCHANGE_HEADER_FILE, *(c.wsdl_file for c in CONTRACTS.values())})


def contract_file(name: str) -> Path:
    """The path of one of our contract files; a ValueError for any other name."""
    if name not in CONTRACT_FILES:
        raise ValueError(f"not a Huiju contract file: {name!r}")
    return WSDL_DIR / name


def _read_own(path: Path) -> etree._Element:
    # Our own files, parsed without network or entities all the same.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True)
    return etree.parse(str(path), parser).getroot()  # noqa: S320 - our own file


@functools.cache
def _header_schema_element() -> etree._Element:
    return _read_own(WSDL_DIR / EXCHANGE_HEADER_FILE)


@functools.cache
def header_schema() -> etree.XMLSchema:
    """The exchange header's schema, compiled once: receivers validate every header against it."""
    return etree.XMLSchema(_header_schema_element())


def served_wsdl(path: Path, address: str) -> bytes:
    """The WSDL at ``path`` as served at ``address``: soap:address pointed there, and self-contained.

    Each ``xsd:import`` of the exchange header's schema by file name becomes an import by namespace
    only, and the schema itself is inlined once in ``wsdl:types`` (WSDL 1.1 §2.2 allows several
    schemas there), so zeep, suds, node ``soap`` and ``wsimport`` all load the WSDL from its one URL.
    """
    root = _read_own(path)
    for node in root.iter(f"{{{WSDL_SOAP_NS}}}address"):
        node.set("location", address)
    types = root.find(f"{{{WSDL_NS}}}types")
    imports = [
        node
        for node in root.iter(f"{{{XSD_NS}}}import")
        if node.get("namespace") == EXCHANGE_NS and node.get("schemaLocation") == EXCHANGE_HEADER_FILE
    ]
    if types is not None and imports:
        for node in imports:
            del node.attrib["schemaLocation"]
        types.insert(0, copy.deepcopy(_header_schema_element()))
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    return data
