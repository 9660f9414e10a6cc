"""The one exception tree of Huiju.

Every layer raises a subclass of :class:`HuijuError`; third-party errors are translated once, at
the boundary where they happen, with ``raise ... from exc``. Each error carries a stable ``code``
(used in API problem+json bodies and CLI output) and the HTTP status a web view answers with.

::

    HuijuError
    ├── ConfigurationError            a setting is missing or invalid (fail fast at start-up)
    ├── InputError                    bad input from outside: form data, ID number, file, argument
    │   └── SchemaError               form data that fails the item's JSON Schema
    ├── NotFoundError                 unknown item, case, task, process
    ├── PermissionDenied              the actor may not do this
    ├── ConflictError                 the state moved on: task not ready, done twice, stale version
    ├── WorkflowError                 the engine
    │   ├── DeployError               a BPMN/DMN file is refused at deploy time (names the element)
    │   ├── ExpressionError           an expression is unsafe or fails to evaluate
    │   └── StepError                 a process instance cannot take a step with the data it has
    ├── AdapterError                  a call to a government system failed
    │   ├── TransientAdapterError     timeouts, connection errors, 5xx, 429: worth retrying
    │   └── PermanentAdapterError     faults, 4xx, invalid replies: retrying cannot help
    └── ExchangeError                 the outbox and delivery
"""

from __future__ import annotations

from typing import Any, ClassVar

from huiju.i18n import Message, localize


class HuijuError(Exception):
    """Base of every Huiju error.

    ``text`` is what a person reads, translatable (a :class:`~huiju.i18n.Message`) where it can
    reach residents or officers; ``message`` is its English form, for logs and tests.
    """

    code: ClassVar[str] = "error"
    http_status: ClassVar[int] = 500

    def __init__(self, text: str | Message, **details: Any) -> None:
        self.text = text
        self.message = str(text)
        super().__init__(self.message)
        self.details = details

    def localized(self, locale: str | None = None) -> str:
        return localize(self.text, locale)

    def to_problem(self, locale: str | None = "en") -> dict[str, Any]:
        """An RFC 9457 problem+json body, its detail in the given locale."""
        body: dict[str, Any] = {
            "type": f"https://huiju.example/problems/{self.code}",
            "title": self.code,
            "status": self.http_status,
            "detail": self.localized(locale),
        }
        if self.details:
            body["errors"] = self.details
        return body


class ConfigurationError(HuijuError):
    code = "configuration"


class InputError(HuijuError):
    code = "invalid-input"
    http_status = 400


class SchemaError(InputError):
    code = "invalid-form-data"
    http_status = 422


class NotFoundError(HuijuError):
    code = "not-found"
    http_status = 404


class PermissionDenied(HuijuError):
    code = "forbidden"
    http_status = 403


class ConflictError(HuijuError):
    code = "conflict"
    http_status = 409


class WorkflowError(HuijuError):
    code = "workflow"


class DeployError(WorkflowError):
    code = "invalid-process"
    http_status = 422


class ExpressionError(WorkflowError):
    code = "invalid-expression"
    http_status = 422


class StepError(WorkflowError):
    code = "step-failed"
    http_status = 422


class AdapterError(HuijuError):
    code = "adapter"
    http_status = 502
    transient: ClassVar[bool] = False


class TransientAdapterError(AdapterError):
    code = "adapter-unavailable"
    transient = True


class PermanentAdapterError(AdapterError):
    code = "adapter-refused"


class ExchangeError(HuijuError):
    code = "exchange"
