"""Hostile or broken input is refused before any signature work, each case with its own error."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from certs.errors import MessageTooLarge, XmlRefused
from certs.store import load_signing_identity
from certs.trust import TrustStore
from certs.xmlsig import parse_untrusted, request_hash, sign_envelope, verify_envelope
from tests.certs.conftest import EnvelopeFactory

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&lol4;</soap:Body></soap:Envelope>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&xxe;</soap:Body></soap:Envelope>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE soap:Envelope SYSTEM "http://127.0.0.1:9/evil.dtd">
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>"""


@pytest.fixture
def trust(pki: Path) -> TrustStore:
    return TrustStore.load(pki)


@pytest.mark.parametrize("data", [BILLION_LAUGHS, XXE, EXTERNAL_DTD], ids=["billion-laughs", "xxe", "external-dtd"])
def test_doctype_is_refused(data: bytes, trust: TrustStore) -> None:
    with pytest.raises(XmlRefused, match="DOCTYPE"):
        verify_envelope(data, trust)
    with pytest.raises(XmlRefused, match="DOCTYPE"):
        request_hash(data)


@pytest.mark.parametrize("data", [BILLION_LAUGHS, XXE, EXTERNAL_DTD], ids=["billion-laughs", "xxe", "external-dtd"])
def test_doctype_in_utf16_is_refused_after_parsing(data: bytes, trust: TrustStore) -> None:
    """The byte scan misses a UTF-16 DOCTYPE; the parsed document's DTD check still refuses it."""
    encoded = data.decode().replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>').encode("utf-16")
    assert b"<!DOCTYPE" not in encoded
    with pytest.raises(XmlRefused) as refused:
        verify_envelope(encoded, trust)
    assert "root:" not in refused.value.message  # nothing of /etc/passwd leaked into the message


def test_oversize_is_refused(pki: Path, trust: TrustStore, envelope: EnvelopeFactory) -> None:
    data = etree.tostring(sign_envelope(envelope(), load_signing_identity(pki, "huiju")))
    verify_envelope(data, trust, max_bytes=len(data))
    with pytest.raises(MessageTooLarge, match=f"more than the limit of {len(data) - 1}"):
        verify_envelope(data, trust, max_bytes=len(data) - 1)
    with pytest.raises(MessageTooLarge):
        verify_envelope(b"<a>" + b" " * (3 * 1024 * 1024) + b"</a>", trust)


@pytest.mark.parametrize(
    "data",
    [b"", b"not xml at all", b"\x00\xff\xfe garbage", b"<soap:Envelope", b'{"json": true}'],
    ids=["empty", "text", "binary", "truncated", "json"],
)
def test_not_xml_is_refused(data: bytes, trust: TrustStore) -> None:
    with pytest.raises(XmlRefused, match="not well-formed XML"):
        verify_envelope(data, trust)


def test_not_a_soap_envelope_is_refused(trust: TrustStore) -> None:
    with pytest.raises(XmlRefused, match="not a SOAP envelope"):
        verify_envelope(b"<Envelope><Body/></Envelope>", trust)


def test_text_instead_of_bytes_is_refused(trust: TrustStore) -> None:
    with pytest.raises(XmlRefused, match="must be bytes"):
        verify_envelope("<a/>", trust)  # type: ignore[arg-type]


def test_parse_untrusted_accepts_plain_xml() -> None:
    assert parse_untrusted(b"<a><b>1</b></a>").findtext("b") == "1"
