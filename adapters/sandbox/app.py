"""The sandbox's WSGI application: four SOAP 1.1 endpoints and a JSON control API.

::

    GET    /{system}?wsdl          the contract, soap:address rewritten to this server
    GET    /exchange_header.xsd    the schema the WSDLs import
    POST   /{system}               a SOAP 1.1 request (text/xml)
    GET    /_sandbox/health        liveness and counts
    POST   /_sandbox/faults        inject: {"operation", "mode", "count", "seconds"}
    GET    /_sandbox/faults        the rules in force
    DELETE /_sandbox/faults        clear them
    GET    /_sandbox/journal       ?message_id=&operation=
    GET    /_sandbox/store         what the systems stored (SMS, cases, records)
    POST   /_sandbox/reset         journal, faults and stores cleared; people stay
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from lxml import etree
from werkzeug.wrappers import Request, Response

from adapters.contracts import CONTRACTS, EXCHANGE_HEADER_FILE, contract_file
from adapters.sandbox import people, soap
from adapters.sandbox.state import FAULT_MODES, DigestMismatch, FaultRule, JournalEntry, SandboxState, Stores
from adapters.sandbox.systems import HANDLERS, response_element
from huiju.db import utcnow

XML = "text/xml; charset=utf-8"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")


def _fault(code: str, string: str, detail: etree._Element | None = None) -> Response:
    # SOAP 1.1 over HTTP answers every fault with status 500.
    return Response(soap.fault_envelope(soap.SoapFault(code, string, detail)), status=500, content_type=XML)


class SandboxApp:
    def __init__(self, state: SandboxState | None = None) -> None:
        self.state = state or SandboxState()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        if path.startswith("/_sandbox/"):
            return self.control(request, path.removeprefix("/_sandbox/"))
        if path == f"/{EXCHANGE_HEADER_FILE}" and request.method == "GET":
            return Response(contract_file(EXCHANGE_HEADER_FILE).read_bytes(), content_type=XML)
        system = path.lstrip("/")
        if system not in CONTRACTS:
            return _json({"error": f"no such system: {system!r}"}, 404)
        if request.method == "GET" and "wsdl" in request.args:
            return self.wsdl(request, system)
        if request.method == "POST":
            return self.handle_soap(request, system)
        return _json({"error": "use GET ?wsdl or POST a SOAP request"}, 405)

    # --- contracts -----------------------------------------------------------------------------

    def wsdl(self, request: Request, system: str) -> Response:
        root = soap.parse_xml(CONTRACTS[system].wsdl_path.read_bytes(), limit=1024 * 1024)
        for address in root.iter(f"{{{WSDL_SOAP}}}address"):
            address.set("location", f"{request.host_url.rstrip('/')}/{system}")
        return Response(etree.tostring(root, xml_declaration=True, encoding="utf-8"), content_type=XML)

    # --- SOAP ----------------------------------------------------------------------------------

    def _read_capped(self, request: Request) -> bytes | None:
        """The body, or None when it is over the cap (the rest is drained, within reason)."""
        limit = soap.MAX_REQUEST_BYTES
        data = request.stream.read(limit + 1)
        if len(data) <= limit:
            return data
        drained = 0
        while drained < 8 * limit and request.stream.read(64 * 1024):
            drained += 64 * 1024
        return None

    def handle_soap(self, request: Request, system: str) -> Response:
        data = self._read_capped(request)
        if data is None:
            return _fault("Client", f"request too large (more than {soap.MAX_REQUEST_BYTES} bytes)")
        try:
            parsed = soap.parse_request(data)
        except soap.SoapFault as exc:
            return _fault(exc.code, exc.string, exc.detail)
        contract = CONTRACTS[system]
        if parsed.namespace != contract.namespace or parsed.operation not in contract.operations:
            return _fault("Client", f"{contract.title} ({system}) has no operation {parsed.operation!r}")
        message_id = parsed.header.get("messageId", "")
        if not message_id:
            return _fault("Client", "the ExchangeHeader with a messageId is required")

        rule = self.state.take_fault(parsed.operation)
        # Injected failures happen before acting, so a retry under the same id acts exactly once.
        if rule is not None and rule.mode == "server_fault":
            return _fault("Server", "service busy, try again later (injected)")
        if rule is not None and rule.mode == "client_fault":
            return _fault("Client", "request refused (injected)")
        if rule is not None and rule.mode == "http_500":
            return Response("internal server error (injected)", status=500, mimetype="text/plain")
        if rule is not None and rule.mode == "http_429":
            return Response("too many requests (injected)", status=429, mimetype="text/plain",
                            headers={"Retry-After": "1"})

        def act(stores: Stores) -> JournalEntry:
            return self._act(system, parsed, stores)

        try:
            entry, _acted = self.state.once(message_id, parsed.digest, act)
        except DigestMismatch:
            return _fault("Client", f"message id {message_id!r} already used for another request")
        if rule is not None and rule.mode == "delay":
            # Acted and journaled first, answered late: the receiver did the work but a caller
            # with a short timeout never hears of it, the hard case for exactly-once delivery.
            time.sleep(rule.seconds)
        return Response(entry.reply, status=entry.http_status, content_type=XML)

    def _act(self, system: str, parsed: soap.SoapRequest, stores: Stores) -> JournalEntry:
        now = utcnow()
        handler = HANDLERS[(system, parsed.operation)]
        try:
            content = handler(parsed.values, stores)
        except soap.SoapFault as fault:
            reply = soap.fault_envelope(fault)
            response: dict[str, Any] = {"fault_code": fault.code, "fault_string": fault.string}
            outcome, status = "fault", 500
        else:
            payload = response_element(system, parsed.operation, content)
            response = soap.to_dict(payload)
            reply = soap.envelope(payload, parsed.header_element)
            outcome, status = "ok", 200
        return JournalEntry(
            message_id=parsed.header["messageId"],
            system=system,
            operation=parsed.operation,
            digest=parsed.digest,
            request=parsed.values,
            response=response,
            outcome=outcome,
            reply=reply,
            http_status=status,
            first_received_at=now,
            last_received_at=now,
        )

    # --- control API ---------------------------------------------------------------------------

    def control(self, request: Request, action: str) -> Response:
        method = request.method
        if action == "health" and method == "GET":
            count = len(people.seeded_people())
            return _json({"status": "ok", "systems": sorted(CONTRACTS), "people": count})
        if action == "faults" and method == "POST":
            return self._add_fault(request)
        if action == "faults" and method == "DELETE":
            self.state.clear_faults()
            return _json({"cleared": True})
        if action == "faults" and method == "GET":
            with self.state.lock:
                return _json([r.to_json() for r in self.state.faults])
        if action == "journal" and method == "GET":
            entries = self.state.entries(request.args.get("message_id"), request.args.get("operation"))
            return _json(entries)
        if action == "store" and method == "GET":
            return _json(self.state.stored())
        if action == "reset" and method == "POST":
            self.state.reset()
            return _json({"reset": True})
        return _json({"error": f"no control action {method} /_sandbox/{action}"}, 404)

    def _add_fault(self, request: Request) -> Response:
        try:
            body = json.loads(request.get_data(cache=False)[: 64 * 1024] or b"null")
        except ValueError:
            return _json({"error": "body must be JSON"}, 400)
        if not isinstance(body, dict):
            return _json({"error": "body must be a JSON object"}, 400)
        operation, mode = body.get("operation", "*"), body.get("mode")
        count, seconds = body.get("count", 1), body.get("seconds", 0)
        known = {op for c in CONTRACTS.values() for op in c.operations}
        if operation != "*" and operation not in known:
            return _json({"error": f"unknown operation {operation!r}"}, 400)
        if mode not in FAULT_MODES:
            return _json({"error": f"mode must be one of {sorted(FAULT_MODES)}"}, 400)
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
            return _json({"error": "count must be a positive integer or null"}, 400)
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 0 <= seconds <= 120:
            return _json({"error": "seconds must be a number from 0 to 120"}, 400)
        rule = FaultRule(operation, mode, count, float(seconds))
        self.state.add_fault(rule)
        return _json(rule.to_json(), 201)
