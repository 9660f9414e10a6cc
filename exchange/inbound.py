"""The inbound endpoint (``/exchange/soap``): callbacks from the government systems.

The e-gov extranet sends its decision on a reported case (NotifyDecision), the SMS platform its
delivery reports (NotifyDelivery) and the payment platform what became of a payment (NotifyPayment)
as signed SOAP calls. Each call is verified before anything reads
it (:func:`adapters.receiver.verified_request`: signature by a trusted, unrevoked signing
certificate; Body and exchange header both signed; timestamp within the allowed skew), then:

- its message id must be new (a replayed id is refused),
- its client must be a system allowed to call that operation,
- a handler registered by the layers above (the case service resumes the case waiting for it)
  must accept it.

The id, the log entry and the handler's work commit in one transaction; a refusal rolls all of it
back and leaves only a log entry of the refusal (with the received envelope, capped). A call that
comes before Huiju can use it (it overtook the reply of the request it answers) is not refused: the
handler keeps it (:mod:`exchange.correlation`) and it is answered as accepted, so that the sender
stops retrying. Answers and faults are signed and carry the requestHash of the call they answer.
The module knows no web framework: bytes in, status and bytes out.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapters.contracts import served_wsdl
from adapters.receiver import ReceiverSecurity, Refused, claimed_message_id, signed_reply, verified_request
from adapters.soapserver import SoapFault, SoapRequest, element, fault_envelope
from exchange.log import Direction, Kind, Outcome, SignatureStatus
from exchange.log import append as log_append
from exchange.models import InboundMessage
from huiju.db import Database
from huiju.errors import HuijuError

log = logging.getLogger(__name__)

INBOUND_NS = "urn:huiju:inbound:1"
WSDL_FILE = Path(__file__).parent / "wsdl" / "inbound.wsdl"
MAX_REQUEST_BYTES = 512 * 1024
UNVERIFIED_LOGGED_BYTES = 4 * 1024  # what is kept of a call that did not verify
#: Which system may call which operation.
ALLOWED_CLIENTS = {"NotifyDecision": {"egov_approval"}, "NotifyDelivery": {"sms"}, "NotifyPayment": {"payment"}}


@dataclass(frozen=True)
class InboundCall:
    """A verified call: what a handler may trust (nothing else of the request is given to it)."""

    operation: str
    client: str
    message_id: str
    case_number: str | None
    values: dict[str, Any]


InboundHandler = Callable[[Session, InboundCall], dict[str, Any]]


class InboundEndpoint:
    def __init__(
        self,
        db: Database,
        security: Callable[[], ReceiverSecurity],
        handlers: Mapping[str, InboundHandler],
        *,
        partner_of: Callable[[Session, str], str | None],
        max_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        self.db = db
        self.security = security
        self.handlers = dict(handlers)
        self.partner_of = partner_of  # client (system) name -> the member whose certificate must sign
        self.max_bytes = max_bytes

    def handle(self, data: bytes) -> tuple[int, bytes]:
        """Answer one POSTed SOAP call: HTTP 200 with a signed answer, or 500 with a signed Fault."""
        security = self.security()
        now = datetime.now(UTC)
        try:
            request = verified_request(data, security, limit=self.max_bytes, now=now)
        except Refused as refused:  # a SOAP 1.2 envelope too: a SOAP 1.1 VersionMismatch fault
            return self._refuse(security, data, refused.code, refused.reason, refused.message_id, None,
                                fault_code=refused.fault_code)  # fmt: skip
        call = InboundCall(
            operation=request.operation,
            client=request.header.get("client", ""),
            message_id=request.header["messageId"],
            case_number=request.header.get("caseNumber") or None,
            values=request.values,
        )
        handler = self.handlers.get(call.operation)
        if handler is None:
            return self._refuse(security, data, "operation-unknown",
                                f"no operation {call.operation} here", call.message_id, request)  # fmt: skip
        if call.client not in ALLOWED_CLIENTS.get(call.operation, set()):
            return self._refuse(security, data, "client-not-allowed",
                                f"{call.client} may not call {call.operation}", call.message_id, request)  # fmt: skip
        with self.db.sessions() as session:
            partner = self.partner_of(session, call.client)
        if partner is None or request.signer != partner:
            # A trusted certificate of another member may not speak for this system (X-Road binds
            # a member's certificates to its identifier the same way).
            reason = f"{call.client} calls must be signed by member {partner}, not {request.signer}"
            return self._refuse(security, data, "signer-not-client", reason, call.message_id, request)
        try:
            with self.db.transaction() as session:
                seen = session.scalars(
                    select(InboundMessage.id).where(InboundMessage.message_id == call.message_id)
                ).first()
                if seen is not None:
                    raise _Replay(call.message_id)
                session.add(InboundMessage(message_id=call.message_id, client=call.client,
                                           operation=call.operation, case_number=call.case_number))  # fmt: skip
                answer = handler(session, call)
                self._log(session, data, call, request, Outcome.ACCEPTED, SignatureStatus.VALID, None)
        except _Replay:
            return self._refuse_replay(security, data, call, request)
        except IntegrityError:
            if self._received(call.message_id):  # the same id committed meanwhile by a twin call
                return self._refuse_replay(security, data, call, request)
            # Another constraint (a concurrent step wrote first): nothing of the call was kept, and
            # the sender is told to try again, never that it was received (it would stop sending).
            log.warning("inbound call %s lost a race; the sender retries", call.message_id, exc_info=True)
            return self._refuse(security, data, "server-busy", "the call could not be processed now; send it again",
                                call.message_id, request, fault_code="Server")  # fmt: skip
        except HuijuError as exc:
            return self._refuse(security, data, exc.code, exc.message, call.message_id, request)
        except Exception:  # a fault that says nothing of our insides, and a log entry, never a bare 500
            log.exception("inbound call %s failed", call.message_id)
            return self._refuse(security, data, "server-error", "the call could not be processed",
                                call.message_id, request, fault_code="Server")  # fmt: skip
        reply = element(INBOUND_NS, f"{call.operation}Response", {"accepted": "true", **answer})
        return 200, signed_reply(security, reply, request=data, limit=self.max_bytes,
                                 echo=request.header, system="huiju", message_id=call.message_id)  # fmt: skip

    def _received(self, message_id: str) -> bool:
        with self.db.sessions() as session:
            found = session.scalars(select(InboundMessage.id).where(InboundMessage.message_id == message_id)).first()
        return found is not None

    def _refuse_replay(
        self, security: ReceiverSecurity, data: bytes, call: InboundCall, request: SoapRequest
    ) -> tuple[int, bytes]:
        reason = f"message id {call.message_id} was received before"
        return self._refuse(security, data, "message-id-replayed", reason, call.message_id, request)

    def _refuse(
        self, security: ReceiverSecurity, data: bytes, code: str, reason: str, message_id: str | None,
        request: SoapRequest | None, *, fault_code: str = "Client",
    ) -> tuple[int, bytes]:  # fmt: skip
        message_id = message_id or claimed_message_id(data, limit=self.max_bytes)
        log.warning("inbound call %r refused (%s): %s", message_id, code, reason)
        with self.db.transaction() as session:
            self._log(session, data, None, request, Outcome.REFUSED,
                      SignatureStatus.VALID if request is not None else SignatureStatus.INVALID,
                      f"{code}: {reason}", message_id=message_id)  # fmt: skip
        fault = SoapFault(fault_code, f"request refused ({code}): {reason}")
        if request is None:
            # Anyone can send what did not verify: no signature of ours on it and nothing echoed, so
            # it cannot be turned into a signed answer to someone else's question.
            return 500, fault_envelope(fault)
        body = signed_reply(security, fault, request=data, limit=self.max_bytes, echo=request.header,
                            system="huiju", message_id=message_id)  # fmt: skip
        return 500, body

    def _log(
        self, session: Session, data: bytes, call: InboundCall | None, request: SoapRequest | None,
        outcome: Outcome, signature: SignatureStatus, error: str | None, *, message_id: str | None = None,
    ) -> None:  # fmt: skip
        header = request.header if request is not None else {}
        if request is not None:  # verified: kept whole, so that it can be verified again later
            envelope, verification = data, f"signed by member {request.signer}"
        else:  # anyone can send this: a short prefix and the digest of the rest, no more
            envelope = data[:UNVERIFIED_LOGGED_BYTES]
            verification = f"{len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}"
        log_append(
            session, direction=Direction.IN, kind=Kind.CALLBACK if outcome is Outcome.ACCEPTED else Kind.REFUSAL,
            outcome=outcome, message_id=(call.message_id if call else message_id or "")[:64] or None,
            system=header.get("client"), operation=request.operation if request else None,
            client=header.get("client"), service=header.get("service"), user_id=header.get("userId"),
            case_number=header.get("caseNumber"), envelope=envelope, signature_status=signature,
            verification=verification, error=error,
        )  # fmt: skip


class _Replay(Exception):
    pass


def wsdl_text(address: str) -> str:
    """The inbound contract, its soap:address pointed at where it is served, self-contained (the
    exchange header's schema inlined), so that any SOAP stack loads it from that one URL."""
    return served_wsdl(WSDL_FILE, address).decode()
