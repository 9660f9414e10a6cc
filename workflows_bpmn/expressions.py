"""The restricted expression environment (受限表达式环境).

Administrators upload BPMN, so every expression in it (gateway conditions, service parameters,
timer expressions, DMN cells) is untrusted input. Nothing here calls ``eval`` or ``exec``: an
expression is parsed with :mod:`ast`, checked against a whitelist of node types, and then
interpreted by ``simpleeval`` with only the pure helper functions listed in :data:`SAFE_FUNCTIONS`
(plus the calendar-bound ones the engine adds). Attribute access is refused altogether (task data
is JSON: subscripts reach every value), as are names starting with ``_``, imports, lambdas and
comprehensions. Script tasks are refused at deploy time, and :meth:`SafeEnvironment.execute`
refuses them again at run time.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import simpleeval
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from huiju.calendar import CHINA, Wait, WorkingCalendar
from huiju.errors import ExpressionError
from huiju.i18n import _

MAX_EXPRESSION_LENGTH = 2000
MAX_DEPTH = 40  # nesting of the syntax tree: deeper ones would exhaust Python's recursion
MAX_VALUE_SIZE = 100_000  # characters and items a value computed by an expression may hold

_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.Subscript, ast.Slice,
    ast.Tuple, ast.List, ast.Dict, ast.Set,
    ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod,
    ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot,
    ast.IfExp, ast.Call,
)  # fmt: skip


def check_expression(expression: str, functions: Mapping[str, Callable[..., Any]]) -> ast.Expression:
    """Parse and check one expression; raise :class:`ExpressionError` saying what is refused."""
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(_("expression longer than {limit} characters", limit=MAX_EXPRESSION_LENGTH))
    tree = _parse(expression)
    if _depth(tree) > MAX_DEPTH:
        raise ExpressionError(
            _("expression nested deeper than {limit} levels: '{expression}'", limit=MAX_DEPTH, expression=expression)
        )
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            raise ExpressionError(
                _(
                    "attribute access '.{attribute}' is not allowed in '{expression}' (use subscripts)",
                    attribute=node.attr,
                    expression=expression,
                )
            )
        if not isinstance(node, _ALLOWED_NODES):
            raise ExpressionError(
                _(
                    "'{node}' is not allowed in expression '{expression}'",
                    node=type(node).__name__,
                    expression=expression,
                )
            )
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            raise ExpressionError(
                _(
                    "names starting with '_' are not allowed: '{name}' in '{expression}'",
                    name=node.id,
                    expression=expression,
                )
            )
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in functions:
                called = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                raise ExpressionError(
                    _("function '{function}' is not allowed in '{expression}'", function=called, expression=expression)
                )
            if node.keywords:
                raise ExpressionError(_("keyword arguments are not allowed in '{expression}'", expression=expression))
    return tree


@lru_cache(maxsize=4096)
def _checked(expression: str, functions: frozenset[str]) -> ast.Expression:
    """:func:`check_expression` remembered: a model's expressions are checked once per process, not at
    every evaluation (only the names of the functions matter to the check; refusals are not kept)."""
    return check_expression(expression, dict.fromkeys(functions, _checked))


@lru_cache(maxsize=4096)
def _parse(expression: str) -> ast.Expression:
    try:
        return ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        # Python's own words for the error are English: the kinds a person can mend are said in ours.
        what = next((words for start, words in _SYNTAX_KINDS if start in (exc.msg or "")), None)
        text = expression.strip()[:200]
        if what is None:
            raise ExpressionError(_("the expression '{expression}' is not written correctly", expression=text)) from exc
        raise ExpressionError(_("the expression '{expression}' is not written correctly: {what}", expression=text,
                                what=what)) from exc  # fmt: skip


#: Python's syntax errors that a person can mend, by a part of its English text.
_SYNTAX_KINDS = (
    ("unterminated", _("a quotation mark is not closed")),
    ("was never closed", _("a bracket is not closed")),
    ("unmatched", _("a closing bracket has no opening one")),
    ("does not match opening", _("a closing bracket does not match the opening one")),
    ("unexpected EOF", _("it ends too early")),
)


def _depth(node: ast.AST) -> int:
    # Iterative, so that measuring a hostile tree cannot itself overflow the stack.
    deepest, stack = 0, [(node, 1)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in ast.iter_child_nodes(current))
    return deepest


def _size(value: Any, budget: int = MAX_VALUE_SIZE) -> int:
    """Characters plus items in a value, counted until ``budget`` is passed (then budget + 1)."""
    total, stack = 0, [value]
    while stack and total <= budget:
        current = stack.pop()
        if isinstance(current, str | bytes):
            total += len(current)
        elif isinstance(current, dict):
            total += len(current)
            stack.extend(current.keys())
            stack.extend(current.values())
        elif isinstance(current, list | tuple | set):
            total += len(current)
            stack.extend(current)
        else:
            total += 1
    return min(total, budget + 1)


def _too_big() -> ExpressionError:
    return ExpressionError(_("an expression may not build values larger than {limit}", limit=MAX_VALUE_SIZE))


def _bounded_add(a: Any, b: Any) -> Any:
    if _size(a) + _size(b) > MAX_VALUE_SIZE:
        raise _too_big()
    return a + b


def _bounded_mult(a: Any, b: Any) -> Any:
    for seq, times in ((a, b), (b, a)):
        if isinstance(seq, str | list | tuple) and isinstance(times, int) and _size(seq) * times > MAX_VALUE_SIZE:
            raise _too_big()
    return a * b


def _numeric_mod(a: Any, b: Any) -> Any:
    if isinstance(a, str | bytes):  # printf-style formatting builds strings of any width
        raise ExpressionError(_("string formatting with '%' is not allowed in expressions"))
    return a % b


def _bounded_str(value: Any = "") -> str:
    if _size(value) > MAX_VALUE_SIZE:
        raise _too_big()
    return str(value)


OPERATORS = {
    **simpleeval.DEFAULT_OPERATORS,
    ast.Add: _bounded_add,
    ast.Mult: _bounded_mult,
    ast.Mod: _numeric_mod,
}


@lru_cache(maxsize=4096)
def _parses(expression: str) -> bool:
    try:
        _parse(expression)
    except ExpressionError:
        return False
    return True


def _as_date(value: str | date) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise ExpressionError(_("not an ISO date: {value}", value=repr(value))) from exc


def age_on(birth_date: str | date, on: str | date) -> int:
    """Full years of age on a day (周岁)."""
    born, day = _as_date(birth_date), _as_date(on)
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def today() -> str:
    """Today's date in China (UTC+8), ISO formatted."""
    return datetime.now(CHINA).date().isoformat()


#: What :func:`upcoming` gives for a moment already past: a timer that never fires.
NEVER = "9999-12-31T00:00:00+08:00"


def upcoming(moment: str) -> str:
    """``moment`` (ISO date-time) if it is still to come, else :data:`NEVER`.

    For reminder timers: a step entered after its reminder time is not reminded late.
    """
    try:
        when = datetime.fromisoformat(str(moment))
    except ValueError as exc:
        raise ExpressionError(_("not an ISO date-time: {value}", value=repr(moment))) from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=CHINA)
    return str(moment) if when > datetime.now(CHINA) else NEVER


def joined(values: Any, separator: str = "、") -> str:
    """The items of a list as one text, for a message: ``["户口簿", "低保证"]`` → ``户口簿、低保证``.

    The size is checked before the text is built: a long separator times a long list is refused.
    """
    if not isinstance(separator, str):
        raise ExpressionError(_("joined() takes a text as its separator"))
    if not isinstance(values, (list, tuple)):
        return _bounded_str(values)
    parts = [_bounded_str(v) for v in values]
    if sum(map(len, parts)) + len(separator) * max(len(parts) - 1, 0) > MAX_VALUE_SIZE:
        raise _too_big()
    return separator.join(parts)


SAFE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "age_on": age_on,
    "joined": joined,
    "upcoming": upcoming,
    "today": today,
    "str": _bounded_str,
    "int": int,
    "float": float,
    "bool": bool,
    "len": len,
    "min": min,
    "max": max,
    "abs": abs,
    "round": round,
}


class SafeEnvironment(BasePythonScriptEngineEnvironment):  # type: ignore[misc]
    """A SpiffWorkflow environment that evaluates with simpleeval and never executes scripts."""

    def __init__(self, extra_functions: Mapping[str, Callable[..., Any]] | None = None) -> None:
        super().__init__({})
        self.functions: dict[str, Callable[..., Any]] = {**SAFE_FUNCTIONS, **(extra_functions or {})}
        #: The names of the functions, as the checks read them (kept for the cache of checked expressions).
        self.names = frozenset(self.functions)
        self._evaluator: simpleeval.EvalWithCompoundTypes | None = None

    def evaluate(self, expression: str, context: dict[str, Any], external_context: Any = None) -> Any:
        tree = _checked(expression, self.names)
        names = {**(external_context or {}), **context}
        evaluator = self._evaluator
        if evaluator is None:  # one per environment (a step's): only its names change between calls
            evaluator = simpleeval.EvalWithCompoundTypes(names=names, functions=self.functions, operators=OPERATORS)
            self._evaluator = evaluator
        evaluator.names = names
        try:
            return evaluator.eval(expression, previously_parsed=tree.body)
        except ExpressionError:
            raise
        except simpleeval.InvalidExpression as exc:
            raise ExpressionError(
                _("cannot evaluate '{expression}': {error}", expression=expression, error=str(exc))
            ) from exc
        except (TypeError, KeyError, IndexError, ValueError, ArithmeticError, RecursionError, MemoryError) as exc:
            raise ExpressionError(
                _(
                    "cannot evaluate '{expression}': {error}",
                    expression=expression,
                    error=f"{type(exc).__name__}: {exc}",
                )
            ) from exc

    def execute(self, script: str, context: dict[str, Any], external_context: Any = None) -> bool:
        raise ExpressionError(_("script tasks and pre/post scripts are not allowed in Huiju processes"))

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> str:
        raise ExpressionError(_("service tasks are run by the host, never by the environment"))


class HuijuScriptEngine(PythonScriptEngine):  # type: ignore[misc]
    """The only script engine Huiju hands to SpiffWorkflow.

    Service tasks do not call anything here: :class:`workflows_bpmn.specs.AsyncServiceTask`
    appends a request to :attr:`service_requests`, which the runner turns into outbox rows in the
    same transaction as the step.
    """

    def __init__(self, extra_functions: Mapping[str, Callable[..., Any]] | None = None) -> None:
        super().__init__(environment=SafeEnvironment(extra_functions))
        self.service_requests: list[dict[str, Any]] = []

    @property
    def functions(self) -> dict[str, Callable[..., Any]]:
        return self.environment.functions  # type: ignore[no-any-return]

    def validate(self, expression: str) -> None:
        # SpiffWorkflow's DMN engine relies on SyntaxError to decide whether a cell needs "==".
        if not _parses(expression):
            raise SyntaxError(f"not an expression: {expression!r}")
        _checked(expression, self.environment.names)

    def call_service(self, task: Any, **kwargs: Any) -> str:
        raise ExpressionError(_("service tasks are asynchronous in Huiju; this path is never taken"))


#: How long a step waits for a system's callback before Huiju asks, by what it waits for; the
#: deployment's settings (``HUIJU_DECISION_QUERY_AFTER``) override them through :func:`host_functions`.
DEFAULT_CALLBACK_WAITS: dict[str, str] = {"egov_decision": "P1D"}


def calendar_functions(
    calendar: Callable[[], WorkingCalendar], waits: Mapping[str, str] | None = None
) -> dict[str, Callable[..., Any]]:
    """The helpers that need the working-day calendar (holidays and 调休 included).

    ``calendar`` is called on first use only: most steps evaluate no date arithmetic, and loading
    the administrator's calendar entries costs a query.
    """
    loaded: list[WorkingCalendar] = []
    known_waits = {**DEFAULT_CALLBACK_WAITS, **(waits or {})}

    def working_calendar() -> WorkingCalendar:
        if not loaded:
            loaded.append(calendar())
        return loaded[0]

    def add_working_days(start: str | date, n: int) -> str:
        return working_calendar().add_working_days(_as_date(start), int(n)).isoformat()

    def callback_wait(what: str) -> str:
        """The timer duration of a step that waits for ``what`` (``"egov_decision"``) before Huiju asks:
        from now to the end of the configured wait (``P1D``: one working day), as ``PT<seconds>S``."""
        text = known_waits.get(str(what))
        if text is None:
            raise ExpressionError(_("no callback wait is configured for {what}", what=repr(what)))
        now = datetime.now(CHINA)
        due = Wait.parse(text).after(now, working_calendar())
        return f"PT{max(1, math.ceil((due - now).total_seconds()))}S"

    return {"add_working_days": add_working_days, "callback_wait": callback_wait}


def host_functions(
    calendar: Callable[[], WorkingCalendar] = WorkingCalendar, waits: Mapping[str, str] | None = None
) -> dict[str, Callable[..., Any]]:
    """Every function an expression may call; deploy-time checks use the same names."""
    return {**SAFE_FUNCTIONS, **calendar_functions(calendar, waits)}
