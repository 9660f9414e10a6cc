"""SOAP envelopes for the signature tests."""

from __future__ import annotations

from lxml import etree

from certs.xmlsig import EXCHANGE_NS, SOAP11_NS


def build_envelope(body_text: str = "430104199001011234", message_id: str = "msg-0001") -> etree._Element:
    """A SOAP 1.1 request with an exchange header, as the adapters will send it (X-Road's header fields)."""
    soap, hx = f"{{{SOAP11_NS}}}", f"{{{EXCHANGE_NS}}}"
    envelope = etree.Element(f"{soap}Envelope", nsmap={"soap": SOAP11_NS})
    header = etree.SubElement(envelope, f"{soap}Header")
    exchange = etree.SubElement(header, f"{hx}ExchangeHeader", nsmap={"hx": EXCHANGE_NS})
    for name, value in (
        ("client", "huiju"),
        ("service", "citizen/VerifyIdentity"),
        ("id", message_id),
        ("userId", "officer-7"),
        ("issue", "CASE-2024-0001"),
        ("timestamp", "2024-05-01T08:00:00Z"),
    ):
        etree.SubElement(exchange, f"{hx}{name}").text = value
    body = etree.SubElement(envelope, f"{soap}Body")
    request = etree.SubElement(body, "{urn:huiju:citizen:1}VerifyIdentity", nsmap={"c": "urn:huiju:citizen:1"})
    etree.SubElement(request, "{urn:huiju:citizen:1}idNumber").text = body_text
    etree.SubElement(request, "{urn:huiju:citizen:1}name").text = "张三"
    return envelope
