"""The sandbox's WSGI application: the SOAP 1.1 endpoints of every contract and a JSON control API.

::

    GET    /{system}?wsdl          the contract, soap:address rewritten to this server, self-contained
    GET    /exchange_header.xsd    the header schema the WSDL files import (inlined in the served ones)
    POST   /{system}               a SOAP 1.1 request (text/xml)
    GET    /_sandbox/health        liveness and counts
    POST   /_sandbox/faults        inject: {"operation", "mode", "count", "seconds"}
    GET    /_sandbox/faults        the rules in force
    DELETE /_sandbox/faults        clear them
    GET    /_sandbox/journal       ?message_id=&operation=
    GET    /_sandbox/refusals      ?message_id= (secure mode: requests refused before acting)
    GET    /_sandbox/store         what the systems stored (SMS, cases, records)
    GET    /_sandbox/callbacks     the callbacks owed and sent to Huiju and how each ended
    POST   /_sandbox/callbacks/drop    {"operation", "count"}: the next callbacks of an operation get lost
    POST   /_sandbox/callbacks/resend  {"operation"}: every accepted one again, under new message ids
    POST   /_sandbox/decisions     {"case_number", "decision", "reason"}: the extranet's next decision
    POST   /_sandbox/payments      {"order_number", "outcome": "paid"|"failed"|"hold"}: the payer's next move
    POST   /_sandbox/payments/pay  {"payment_id", "outcome": "paid"|"failed"}: a held payment paid (or failed) now
    GET    /checkout/{payment_id}  (on the checkout listener only, not here) the payer's page, see .checkout
    POST   /_sandbox/reset         journal, refusals, faults, stores and callbacks cleared; people stay

The extranet decides on a case when it receives it, and tells Huiju a moment later (the callback
delay); QueryCase shows the decision from then on. Without callbacks it decides only what was
preset through ``/_sandbox/decisions``. The payment platform's payer pays a new payment at once, or
leaves it to a person on its checkout page (the payer mode, :mod:`.payments`), unless told otherwise
through ``/_sandbox/payments``; a refund goes through a moment later.

In secure mode (a :class:`~adapters.receiver.SandboxSecurity`) every request must be signed
and every reply is signed; see :mod:`adapters.receiver`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from lxml import etree
from werkzeug.wrappers import Request, Response

from adapters import soapserver as soap
from adapters.contracts import CONTRACTS, EXCHANGE_HEADER_FILE, contract_file, served_wsdl
from adapters.receiver import (
    Refused,
    SandboxSecurity,
    claimed_message_id,
    header_problem,
    signed_reply,
    verified_request,
)
from adapters.sandbox import people
from adapters.sandbox.callbacks import CallbackSender
from adapters.sandbox.payments import OUTCOMES, PaymentDesk
from adapters.sandbox.state import (
    FAULT_MODES,
    DigestMismatch,
    FaultRule,
    JournalEntry,
    Owed,
    Refusal,
    SandboxState,
    Stores,
)
from adapters.sandbox.systems import HANDLERS, decide, response_element
from huiju.db import utcnow

XML = "text/xml; charset=utf-8"


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")


def _json_body(request: Request) -> Any:
    """A control call's JSON body (capped), or the 400 answer saying it is not JSON."""
    try:
        return json.loads(request.get_data(cache=False)[: 64 * 1024] or b"null")
    except ValueError:
        return _json({"error": "body must be JSON"}, 400)


def _fault(code: str, string: str, detail: etree._Element | None = None) -> Response:
    # SOAP 1.1 over HTTP answers every fault with status 500.
    return Response(soap.fault_envelope(soap.SoapFault(code, string, detail)), status=500, content_type=XML)


def _contract_problem(parsed: soap.SoapRequest, system: str) -> str | None:
    contract = CONTRACTS[system]
    if parsed.namespace != contract.namespace or parsed.operation not in contract.operations:
        return f"{contract.title} ({system}) has no operation {parsed.operation!r}"
    return None


@dataclass(frozen=True, slots=True)
class _Replier:
    """How to answer one request: plain envelopes, or (secure mode) signed ones with requestHash."""

    security: SandboxSecurity | None
    system: str
    request: bytes
    parsed: soap.SoapRequest

    def envelope(self, content: etree._Element | soap.SoapFault) -> bytes:
        if self.security is None:
            if isinstance(content, soap.SoapFault):
                return soap.fault_envelope(content)
            return soap.envelope(content, self.parsed.header_element)
        return signed_reply(
            self.security,
            content,
            request=self.request,
            limit=soap.MAX_REQUEST_BYTES,
            echo=self.parsed.header,
            system=self.system,
            message_id=self.parsed.header.get("messageId"),
        )

    def fault(self, code: str, string: str) -> Response:
        return Response(self.envelope(soap.SoapFault(code, string)), status=500, content_type=XML)


class SandboxApp:
    """The WSGI app; with ``security`` it runs in secure mode (:mod:`adapters.receiver`)."""

    def __init__(
        self,
        state: SandboxState | None = None,
        security: SandboxSecurity | None = None,
        callbacks: CallbackSender | None = None,
        payments: PaymentDesk | None = None,
    ) -> None:
        self.state = state or SandboxState()
        self.security = security
        self.callbacks = callbacks
        self.payments = payments or PaymentDesk()
        self.handlers = {**HANDLERS, ("payment", "CreatePayment"): self.payments.create_payment}

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
        # Self-contained (the header schema inlined): any SOAP stack loads it from this one URL.
        address = f"{request.host_url.rstrip('/')}/{system}"
        return Response(served_wsdl(CONTRACTS[system].wsdl_path, address), content_type=XML)

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
        if self.security is not None:
            return self._handle_secure(data, system, self.security)
        if data is None:
            return _fault("Client", f"request too large (more than {soap.MAX_REQUEST_BYTES} bytes)")
        try:
            parsed = soap.parse_request(data)
        except soap.SoapFault as exc:
            return _fault(exc.code, exc.string, exc.detail)
        problem = _contract_problem(parsed, system)
        if problem is not None:
            return _fault("Client", problem)
        message_id = parsed.header.get("messageId", "")
        if not message_id or parsed.header_element is None:
            return _fault("Client", "the ExchangeHeader with a messageId is required")
        problem = header_problem(parsed.header_element)
        if problem is not None:  # the contract is what a receiver enforces, signed or not
            return _fault("Client", f"request refused (header-invalid): {problem}")
        return self._serve(system, parsed, _Replier(None, system, data, parsed))

    def _handle_secure(self, data: bytes | None, system: str, security: SandboxSecurity) -> Response:
        """Secure mode: verify first, act only on what verified, sign every answer (see .security)."""
        limit = soap.MAX_REQUEST_BYTES
        if data is None:
            refused = Refused("message-too-large", f"request too large (more than {limit} bytes)")
            return self._refuse(security, system, b"", refused, size=limit + 1)
        try:
            parsed = verified_request(data, security, limit=limit, now=utcnow())
        except Refused as exc:
            return self._refuse(security, system, data, exc)
        problem = _contract_problem(parsed, system)
        if problem is not None:
            refused = Refused("operation-unknown", problem, parsed.header["messageId"])
            return self._refuse(security, system, data, refused)
        return self._serve(system, parsed, _Replier(security, system, data, parsed))

    def _refuse(
        self, security: SandboxSecurity, system: str, data: bytes, refused: Refused, *, size: int | None = None
    ) -> Response:
        """Record a refusal (never in the journal) and answer a signed Client fault saying why."""
        limit = soap.MAX_REQUEST_BYTES
        message_id = refused.message_id or claimed_message_id(data, limit=limit)
        self.state.refuse(
            Refusal(
                system=system,
                message_id=message_id,
                code=refused.code,
                reason=refused.reason,
                received_at=utcnow(),
                size=len(data) if size is None else size,
            )
        )
        fault = soap.SoapFault(refused.fault_code, refused.faultstring)
        reply = signed_reply(
            security, fault, request=data, limit=limit, echo=None, system=system, message_id=message_id
        )
        return Response(reply, status=500, content_type=XML)

    def _serve(self, system: str, parsed: soap.SoapRequest, replier: _Replier) -> Response:
        """Injected failures, then act once per message id (the journal), then answer."""
        message_id = parsed.header["messageId"]
        rule = self.state.take_fault(parsed.operation)
        # Injected failures happen before acting, so a retry under the same id acts exactly once.
        if rule is not None and rule.mode == "server_fault":
            return replier.fault("Server", "service busy, try again later (injected)")
        if rule is not None and rule.mode == "client_fault":
            return replier.fault("Client", "request refused (injected)")
        if rule is not None and rule.mode == "http_500":
            return Response("internal server error (injected)", status=500, mimetype="text/plain")
        if rule is not None and rule.mode == "http_429":
            return Response(
                "too many requests (injected)", status=429, mimetype="text/plain", headers={"Retry-After": "1"}
            )

        def act(stores: Stores) -> tuple[JournalEntry, Owed]:
            entry = self._act(system, parsed, stores, replier)
            return entry, self._owe(parsed, entry, stores) if entry.outcome == "ok" else []

        try:
            entry, acted, owed = self.state.once(message_id, parsed.digest, act)
        except DigestMismatch:
            reason = f"message id {message_id!r} already used for another request"
            if replier.security is not None:
                refused = Refused("message-id-reused", reason, message_id)
                return self._refuse(replier.security, system, replier.request, refused)
            return _fault("Client", reason)
        if acted and self.callbacks is not None:
            for callback in owed:  # kept on disk with the journal entry: sent even after a restart
                self.callbacks.start(callback)
        if rule is not None and rule.mode == "delay":
            # Acted and journaled first, answered late: the receiver did the work but a caller
            # with a short timeout never hears of it, the hard case for exactly-once delivery.
            time.sleep(rule.seconds)
        return Response(entry.reply, status=entry.http_status, content_type=XML)

    def _act(self, system: str, parsed: soap.SoapRequest, stores: Stores, replier: _Replier) -> JournalEntry:
        now = utcnow()
        handler = self.handlers[(system, parsed.operation)]
        try:
            content = handler(parsed.values, stores)
        except soap.SoapFault as fault:
            reply = replier.envelope(fault)
            response: dict[str, Any] = {"fault_code": fault.code, "fault_string": fault.string}
            outcome, status = "fault", 500
        else:
            payload = response_element(system, parsed.operation, content)
            response = soap.to_dict(payload)
            reply = replier.envelope(payload)
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

    def _owe(self, parsed: soap.SoapRequest, entry: JournalEntry, stores: Stores) -> Owed:
        """What the real systems do later, decided now: the extranet decides, the SMS platform reports.

        Runs inside the act, so that the decision and the callbacks owed are kept with its journal entry.
        """
        callbacks = self.callbacks
        if parsed.operation == "SubmitCase":
            case_number = str(parsed.values["caseNumber"])
            preset = stores.take_preset(case_number)
            if preset is None and callbacks is None:
                return []  # an extranet that calls nobody back decides only what it was told to
            decision, reason = preset or ("approved", "")
            at = utcnow() + timedelta(seconds=callbacks.delay if callbacks is not None else 0.0)
            values = decide(stores, str(entry.response["receiptNumber"]), decision, reason, at)
            if callbacks is None:
                return []
            lost = stores.take_drop("NotifyDecision")
            return [callbacks.owe("NotifyDecision", case_number, values, "egov_approval", lost=lost)]
        if parsed.operation == "SendSms" and callbacks is not None:
            values = callbacks.delivery_values(str(entry.response["smsId"]), parsed.header["messageId"])
            lost = stores.take_drop("NotifyDelivery")
            return [callbacks.owe("NotifyDelivery", parsed.header.get("caseNumber") or None, values, "sms", lost=lost)]
        if callbacks is None:
            return []  # a payment platform that calls nobody back leaves its payments as they are
        if parsed.operation == "CreatePayment":
            outcome = self.payments.outcome_for(str(parsed.values["orderNumber"]))
            if outcome != "hold":
                return self._payment_moved(stores, str(entry.response["paymentId"]), outcome)
        elif parsed.operation == "Refund" and entry.response.get("status") == "refunding":
            return self._payment_moved(stores, str(entry.response["paymentId"]), "refunded")
        return []

    def _payment_moved(self, stores: Stores, payment_id: str, status: str) -> Owed:
        """The payer paid (or failed), or the refund went through: the platform owes a callback."""
        values = PaymentDesk.settle(stores, payment_id, status)
        if values is None or self.callbacks is None:
            return []
        lost = stores.take_drop("NotifyPayment")
        return [self.callbacks.owe("NotifyPayment", str(values["orderNumber"]), values, "payment", lost=lost)]

    def move_payment(self, payment_id: str, status: str) -> bool:
        """A held payment paid (or failed) now, its callback kept on disk with the change, then sent;
        False when no payment with this id waits for its payer."""
        moved: list[bool] = []

        def act(stores: Stores) -> Owed:
            moved.append(stores.payments.get(payment_id, {}).get("status") == "pending")
            return self._payment_moved(stores, payment_id, status) if moved[0] else []

        owed = self.state.change(act)
        if self.callbacks is not None:
            for callback in owed:
                self.callbacks.start(callback)
        return moved[0]

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
        if action == "refusals" and method == "GET":
            return _json(self.state.refused(request.args.get("message_id")))
        if action == "store" and method == "GET":
            return _json(self.state.stored())
        if action == "callbacks" and method == "GET":
            return _json(self.callbacks.to_json() if self.callbacks else [])
        if action in ("callbacks/drop", "callbacks/resend") and method == "POST":
            return self._callback_control(request, action.removeprefix("callbacks/"))
        if action == "decisions" and method == "POST":
            return self._preset_decision(request)
        if action in ("payments", "payments/pay") and method == "POST":
            return self._payments(request, action)
        if action == "reset" and method == "POST":
            self.state.reset()
            if self.callbacks is not None:
                self.callbacks.forget()
            return _json({"reset": True})
        return _json({"error": f"no control action {method} /_sandbox/{action}"}, 404)

    def _callback_control(self, request: Request, action: str) -> Response:
        if self.callbacks is None:
            return _json({"error": "this sandbox sends no callbacks (it needs secure mode and a callback URL)"}, 409)
        body = _json_body(request)
        if isinstance(body, Response):
            return body
        operation = body.get("operation") if isinstance(body, dict) else None
        if operation not in ("NotifyDecision", "NotifyDelivery"):
            return _json({"error": 'give {"operation": "NotifyDecision"|"NotifyDelivery"}'}, 400)
        if action == "resend":
            return _json({"resent": self.callbacks.resend(operation)})
        count = body.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            return _json({"error": "count must be a positive integer"}, 400)
        self.callbacks.drop(operation, count)
        return _json({"dropping": count, "operation": operation})

    def _preset_decision(self, request: Request) -> Response:
        body = _json_body(request)
        if isinstance(body, Response):
            return body
        if (
            not isinstance(body, dict)
            or body.get("decision") not in ("approved", "denied")
            or not body.get("case_number")
        ):
            return _json({"error": 'give {"case_number", "decision": "approved"|"denied", "reason"}'}, 400)
        self.state.preset(str(body["case_number"]), body["decision"], str(body.get("reason") or ""))
        return _json({"preset": True})

    def _payments(self, request: Request, action: str) -> Response:
        if self.callbacks is None:
            return _json({"error": "this sandbox sends no callbacks (it needs secure mode and a callback URL)"}, 409)
        body = _json_body(request)
        if isinstance(body, Response):
            return body
        outcome = body.get("outcome") if isinstance(body, dict) else None
        if action == "payments":
            if outcome not in OUTCOMES or not isinstance(body, dict) or not body.get("order_number"):
                return _json({"error": 'give {"order_number", "outcome": "paid"|"failed"|"hold"}'}, 400)
            self.payments.preset(str(body["order_number"]), str(outcome))
            return _json({"preset": True})
        if outcome not in ("paid", "failed") or not isinstance(body, dict) or not body.get("payment_id"):
            return _json({"error": 'give {"payment_id", "outcome": "paid"|"failed"}'}, 400)
        if not self.move_payment(str(body["payment_id"]), str(outcome)):
            return _json({"error": "no payment waiting for its payer with this id"}, 409)
        return _json({"moved": True})

    def _add_fault(self, request: Request) -> Response:
        body = _json_body(request)
        if isinstance(body, Response):
            return body
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
