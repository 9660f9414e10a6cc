"""The restricted expression environment: what evaluates, and every escape that is refused."""

from __future__ import annotations

from typing import Any

import pytest

from huiju.calendar import WorkingCalendar
from huiju.errors import ExpressionError
from workflows_bpmn.expressions import HuijuScriptEngine, SafeEnvironment, age_on, check_expression, host_functions


@pytest.fixture(scope="module")
def env() -> SafeEnvironment:
    return SafeEnvironment(host_functions(WorkingCalendar))


def evaluate(env: SafeEnvironment, expression: str, **names: Any) -> Any:
    return env.evaluate(expression, names)


@pytest.mark.parametrize(
    ("birth", "on", "age"),
    [
        ("1960-03-15", "2025-03-14", 64),  # the day before the birthday
        ("1960-03-15", "2025-03-15", 65),  # on the birthday
        ("1960-03-15", "2025-12-31", 65),
        ("1960-02-29", "2025-02-28", 64),  # born on a leap day: not yet in a common year
        ("1960-02-29", "2025-03-01", 65),
        ("1960-02-29", "2024-02-29", 64),
    ],
)
def test_age_on_across_birthdays(env: SafeEnvironment, birth: str, on: str, age: int) -> None:
    assert evaluate(env, "age_on(born, day)", born=birth, day=on) == age
    assert age_on(birth, on) == age


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        ("2025-09-26", 1, "2025-09-28"),  # Sunday 28 September is a make-up working day (调休)
        ("2025-09-30", 1, "2025-10-09"),  # 1-8 October: National Day and Mid-Autumn
        ("2025-09-30", 2, "2025-10-10"),
        ("2025-10-10", 1, "2025-10-11"),  # Saturday 11 October is worked too
        ("2025-09-29", 3, "2025-10-10"),
    ],
)
def test_add_working_days_across_national_day_2025(env: SafeEnvironment, start: str, n: int, expected: str) -> None:
    assert evaluate(env, "add_working_days(start, n)", start=start, n=n) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('{"case_number": str(n), "tier": t}', {"case_number": "7", "tier": "A"}),
        ("[1, 2, n + 1]", [1, 2, 8]),
        ('t in ["A", "B"]', True),
        ('t not in ("B", "C")', True),
        ('form["income_band"] == "subsistence" and not flags["alone"]', True),
        ('form["tags"][1:]', ["b", "c"]),
        ("max(n, 10) - min(n, 3) // 2 % 5", 9),
        ('"yes" if n > 5 else "no"', "yes"),
        ("-n + abs(-3) + round(2.5) + len(form)", 0),
        ('"A" * 3', "AAA"),
    ],
)
def test_allowed_expressions(env: SafeEnvironment, expression: str, expected: Any) -> None:
    form = {"income_band": "subsistence", "tags": ["a", "b", "c"]}
    names = {"n": 7, "t": "A", "form": form, "flags": {"alone": False}}
    assert env.evaluate(expression, names) == expected


ESCAPES = [
    "().__class__.__bases__",
    "().__class__.__base__.__subclasses__()",
    "x.get",
    'x.get("a")',
    "__builtins__",
    "_secret",
    "x['__class__']" + ".__mro__",
    '__import__("os").system("id")',
    'open("/etc/passwd")',
    'eval("1 + 1")',
    'exec("import os")',
    'getattr(x, "__class__")',
    "globals()",
    "vars(x)",
    "type(x)",
    "lambda: 1",
    "(lambda: 1)()",
    "[c for c in x]",
    "{k: 1 for k in x}",
    "{c for c in x}",
    "list(c for c in x)",
    "(y := 5)",
    'f"{x}"',
    "2 ** 10",
    "9 ** 9 ** 9",
    "round(2.5, ndigits=1)",
    "str(*x)",
    "x[0](1)",
    "import os",
    "1; 2",
]


@pytest.mark.parametrize("expression", ESCAPES)
def test_escapes_are_refused(env: SafeEnvironment, expression: str) -> None:
    with pytest.raises(ExpressionError):
        env.evaluate(expression, {"x": {"a": 1}})
    with pytest.raises(ExpressionError):
        check_expression(expression, env.functions)


def test_names_with_underscore_are_refused_even_when_given(env: SafeEnvironment) -> None:
    with pytest.raises(ExpressionError, match="'_'"):
        env.evaluate("_x + 1", {"_x": 1})


@pytest.mark.parametrize("expression", ['"a" * 1000000', "s * 200000", "[1] * 10000000"])
def test_huge_repetition_is_capped(env: SafeEnvironment, expression: str) -> None:
    with pytest.raises(ExpressionError):
        env.evaluate(expression, {"s": "xy"})


def test_overlong_expression_is_refused(env: SafeEnvironment) -> None:
    with pytest.raises(ExpressionError, match="longer than"):
        env.evaluate("1 + " * 600 + "1", {})


def test_runtime_errors_become_expression_errors(env: SafeEnvironment) -> None:
    with pytest.raises(ExpressionError, match="KeyError"):
        env.evaluate('form["missing"]', {"form": {}})
    with pytest.raises(ExpressionError, match="ZeroDivisionError"):
        env.evaluate("1 / n", {"n": 0})
    with pytest.raises(ExpressionError):
        env.evaluate("unknown_name + 1", {})
    with pytest.raises(ExpressionError, match="ISO date"):
        env.evaluate('age_on("yesterday", "2025-01-01")', {})


def test_scripts_are_refused(env: SafeEnvironment) -> None:
    with pytest.raises(ExpressionError, match="script"):
        env.execute("x = 1", {})
    engine = HuijuScriptEngine(host_functions())
    with pytest.raises(ExpressionError):
        engine.environment.execute("import os", {})
    with pytest.raises(ExpressionError):
        engine.validate("x.__class__")
    with pytest.raises(SyntaxError):
        engine.validate(">= 60")  # SpiffWorkflow's DMN engine needs the SyntaxError itself


def test_joined_lists_items_and_checks_the_size_before_building_the_text(env: SafeEnvironment) -> None:
    assert env.evaluate('joined(["户口簿", "低保证"])', {}) == "户口簿、低保证"
    assert env.evaluate('joined(["a", 1], ", ")', {}) == "a, 1"
    with pytest.raises(ExpressionError):
        env.evaluate('joined(["a"] * 50000, "x" * 2000)', {})  # ~100 MB were it built
    with pytest.raises(ExpressionError):
        env.evaluate("joined([1], 5)", {})
