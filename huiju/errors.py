"""The one exception tree of Huiju.

Every layer raises a subclass of :class:`HuijuError`; third-party errors are translated once, at
the boundary where they happen, with ``raise ... from exc``. Each error carries a stable ``code``
(used in API problem+json bodies and CLI output); the HTTP status a web view answers with is the web
layer's business (:mod:`huiju.web.problems`), not the core's.

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

    def __init__(self, text: str | Message, **details: Any) -> None:
        self.text = text
        self.message = str(text)
        super().__init__(self.message)
        self.details = details

    def localized(self, locale: str | None = None) -> str:
        return localize(self.text, locale)


class ConfigurationError(HuijuError):
    code = "configuration"


class InputError(HuijuError):
    code = "invalid-input"


class SchemaError(InputError):
    code = "invalid-form-data"

    def __init__(self, text: str | Message, **details: Any) -> None:
        super().__init__(text, **details)
        #: What is wrong with each field, in words for people (each field named by its title, never
        #: its code); ``details`` keep the validator's own findings for programs (the API's problem).
        self.problems: dict[str, Message] = {}

    def with_problems(self, problems: dict[str, Message]) -> SchemaError:
        self.problems = dict(problems)
        return self


class NotFoundError(HuijuError):
    code = "not-found"


class PermissionDenied(HuijuError):
    code = "forbidden"


class ConflictError(HuijuError):
    code = "conflict"


class WorkflowError(HuijuError):
    code = "workflow"


class DeployError(WorkflowError):
    code = "invalid-process"


class ExpressionError(WorkflowError):
    code = "invalid-expression"


class StepError(WorkflowError):
    code = "step-failed"


class AdapterError(HuijuError):
    code = "adapter"
    transient: ClassVar[bool] = False


class TransientAdapterError(AdapterError):
    code = "adapter-unavailable"
    transient = True


class PermanentAdapterError(AdapterError):
    code = "adapter-refused"


class ExchangeError(HuijuError):
    code = "exchange"
