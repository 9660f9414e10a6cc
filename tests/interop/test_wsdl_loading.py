"""Every WSDL Huiju serves loads from its URL in four SOAP stacks Huiju did not write the contracts for:
zeep, suds, node ``soap`` and Java's ``wsimport``; the files it ships load from their paths too.

The served copies are self-contained (the exchange header's schema inlined), so a stack needs the one
URL; the shipped files import ``exchange_header.xsd`` from beside them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import zeep
from lxml import etree
from suds.client import Client as SudsClient

from adapters.contracts import CONTRACTS, EXCHANGE_HEADER_FILE, WSDL_DIR, WSDL_NS, XSD_NS
from adapters.sandbox.server import SandboxServer
from exchange.inbound import WSDL_FILE as INBOUND_WSDL
from tests.interop.conftest import KIT, SYSTEMS, Huiju, JavaKit, NodeKit, need, run_json

OPERATIONS = {system: set(CONTRACTS[system].operations) for system in SYSTEMS} | {
    "inbound": {"NotifyDecision", "NotifyDelivery", "NotifyPayment"}
}
HEADER = "{urn:huiju:exchange:1}ExchangeHeader"


def served(plain_sandbox: SandboxServer, huiju: Huiju) -> dict[str, str]:
    urls = {system: f"{plain_sandbox.url}/{system}?wsdl" for system in SYSTEMS}
    urls["inbound"] = f"{huiju.inbound_url}?wsdl"
    return urls


def shipped() -> dict[str, Path]:
    files = {system: CONTRACTS[system].wsdl_path for system in SYSTEMS}
    files["inbound"] = INBOUND_WSDL
    return files


def test_zeep_loads_every_served_wsdl_from_its_url(plain_sandbox: SandboxServer, huiju: Huiju) -> None:
    for name, url in served(plain_sandbox, huiju).items():
        client = zeep.Client(url)
        (service,) = client.wsdl.services.values()
        (port,) = service.ports.values()
        assert set(port.binding._operations) == OPERATIONS[name], name
        assert client.get_element(HEADER).name == "ExchangeHeader"
        # the endpoint is where the WSDL was served from
        assert port.binding_options["address"] == url.removesuffix("?wsdl")


def test_suds_loads_every_served_wsdl_from_its_url(plain_sandbox: SandboxServer, huiju: Huiju) -> None:
    for name, url in served(plain_sandbox, huiju).items():
        client = SudsClient(url, cache=None)
        methods = {method.name for method in client.wsdl.services[0].ports[0].methods.values()}
        assert methods == OPERATIONS[name], name
        header = client.factory.create("{urn:huiju:exchange:1}ExchangeHeaderType")
        assert hasattr(header, "messageId") and hasattr(header, "requestHash")


def test_node_soap_loads_every_served_wsdl_from_its_url(
    plain_sandbox: SandboxServer, huiju: Huiju, node_kit: NodeKit
) -> None:
    urls = served(plain_sandbox, huiju)
    node = need("node", "node soap runs on node")
    code, out = run_json([node, str(KIT / "node" / "load.js"), *urls.values()], cwd=KIT / "node")
    assert code == 0, out
    for name, url in urls.items():
        ((_service, ports),) = out[url].items()
        ((_port, operations),) = ports.items()
        assert set(operations) == OPERATIONS[name], name


def test_wsimport_loads_every_served_wsdl_from_its_url(
    plain_sandbox: SandboxServer, huiju: Huiju, java_kit: JavaKit, tmp_path: Path
) -> None:
    """citizen_info and the inbound endpoint were generated and compiled for the Java partner already."""
    wsimport = need("wsimport", "Debian's jaxws")
    urls = served(plain_sandbox, huiju)
    assert (java_kit.classes / "org" / "huiju" / "interop" / "citizen" / "CitizenInfoPortType.class").is_file()
    assert (java_kit.classes / "org" / "huiju" / "interop" / "inbound" / "HuijuInboundPortType.class").is_file()
    for name in ("sms", "egov_approval", "data_exchange"):
        out = tmp_path / name
        out.mkdir()
        result = subprocess.run([wsimport, "-Xnocompile", "-d", str(out), "-p", f"gen.{name}", urls[name]],
                                capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        port_types = list(out.rglob("*PortType.java"))
        assert len(port_types) == 1, name
        text = port_types[0].read_text()
        for operation in OPERATIONS[name]:
            assert f'operationName = "{operation}"' in text


@pytest.mark.parametrize("name", [*SYSTEMS, "inbound"])
def test_the_shipped_files_load_from_their_paths(name: str) -> None:
    path = shipped()[name]
    assert (path.parent / EXCHANGE_HEADER_FILE).is_file()  # what they import, beside them
    client = zeep.Client(str(path))
    assert client.get_element(HEADER).name == "ExchangeHeader"
    suds = SudsClient(path.resolve().as_uri(), cache=None)
    assert {m.name for m in suds.wsdl.services[0].ports[0].methods.values()} == OPERATIONS[name]


def test_served_wsdls_are_self_contained_and_carry_their_notes(plain_sandbox: SandboxServer, huiju: Huiju) -> None:
    import requests

    for name, url in served(plain_sandbox, huiju).items():
        root = etree.fromstring(requests.get(url, timeout=10).content)
        assert not [node for node in root.iter(f"{{{XSD_NS}}}import") if node.get("schemaLocation")], name
        schemas = root.findall(f"{{{WSDL_NS}}}types/{{{XSD_NS}}}schema")
        assert [s.get("targetNamespace") for s in schemas][0] == "urn:huiju:exchange:1"
        # the notes reach the partner: documentation, not comments (which a served copy would drop)
        assert "SOAP 1.1" in (root.findtext(f"{{{WSDL_NS}}}documentation") or "")
        binding_notes = root.findtext(f"{{{WSDL_NS}}}binding/{{{WSDL_NS}}}documentation") or ""
        assert "wsse:Security" in binding_notes and "requestHash" in binding_notes


def test_the_contract_files_keep_their_notes_in_documentation_not_comments() -> None:
    for path in [*WSDL_DIR.glob("*.wsdl"), WSDL_DIR / EXCHANGE_HEADER_FILE, INBOUND_WSDL]:
        tree = etree.parse(str(path))  # noqa: S320 - our own files
        assert not tree.xpath("//comment()"), path
    header = etree.parse(str(WSDL_DIR / EXCHANGE_HEADER_FILE))  # noqa: S320 - our own file
    patterns = {node.getparent().getparent().get("name"): node.get("value")
                for node in header.iter(f"{{{XSD_NS}}}pattern")}  # fmt: skip
    assert patterns["MessageId"] == r"[A-Za-z0-9._:\-]{1,64}"
    assert patterns["DateTimeWithOffset"].endswith("(Z|[+\\-][0-9]{2}:[0-9]{2})")


def test_binding_notes_are_the_same_in_every_contract() -> None:
    notes = {
        path.name: etree.parse(str(path)).findtext(f"{{{WSDL_NS}}}binding/{{{WSDL_NS}}}documentation")  # noqa: S320
        for path in shipped().values()
    }
    assert len(set(notes.values())) == 1, notes.keys()
