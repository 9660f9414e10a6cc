"""The SOAP 1.1 contracts Huiju defines, one per external system, and where they live.

The real systems' WSDLs are not public, so the files in ``adapters/wsdl/`` are the contract for
both sides: the zeep clients and the sandbox load them from that folder and from nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

WSDL_DIR = Path(__file__).resolve().parent / "wsdl"
EXCHANGE_NS = "urn:huiju:exchange:1"
EXCHANGE_HEADER_FILE = "exchange_header.xsd"
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
