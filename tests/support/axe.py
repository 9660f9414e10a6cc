"""Accessibility audits inside the browser tests: axe-core (from the npm registry, fetched by
``make test-assets``) runs in the page and every WCAG 2.1 A/AA violation fails the test.

``audit(page, "what")`` checks the page as it is now; the violations are printed with the rule, the
help text and the first offending elements, so that a failure says what to mend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

VENDOR = Path(__file__).parent / "vendor"
#: The rules of WCAG 2.0 and 2.1, levels A and AA (axe's tags).
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_source() -> str:
    found = sorted(VENDOR.glob("axe-*.min.js"))
    if not found:
        pytest.fail("the browser tests need axe-core: run `make test-assets`", pytrace=False)
    return found[-1].read_text(encoding="utf-8")


def inject(page: Any) -> None:
    """axe-core into the page, unless it is there already. Evaluated by the browser's debugging
    protocol, not as a <script> element: the pages' Content-Security-Policy (script-src 'self')
    rightly refuses inline scripts, and the audit must see the page under its real headers."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(f"(() => {{\n{axe_source()}\n}})()")
        # axe's bundle defines a global when it finds no module system; make sure it did.
        assert page.evaluate("typeof window.axe !== 'undefined'"), "axe-core did not load in the page"


def violations(page: Any) -> list[dict[str, Any]]:
    """axe's violations of the page as it stands (WCAG 2.1 AA)."""
    inject(page)
    result: dict[str, Any] = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG_AA,
    )
    return list(result["violations"])


def describe(found: list[dict[str, Any]]) -> str:
    lines = []
    for v in found:
        targets = ["  ".join(map(str, node["target"])) for node in v["nodes"][:4]]
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} element(s): {'; '.join(targets)}")
        summary = v["nodes"][0].get("failureSummary", "") if v["nodes"] else ""
        if summary:
            lines.append("    " + summary.replace("\n", " "))
    return "\n".join(lines)


def audit(page: Any, what: str) -> None:
    """Fail the test when the page has any WCAG 2.1 AA violation."""
    found = violations(page)
    assert not found, f"accessibility violations on {what} ({page.url}):\n{describe(found)}"


def rule_results(page: Any, rules: list[str], selector: str) -> dict[str, Any]:
    """axe's results (passes and violations) of the named rules within ``selector`` (e.g.
    ``color-contrast-enhanced``: WCAG's AAA contrast at the size the text is shown)."""
    inject(page)
    result: dict[str, Any] = page.evaluate(
        "([rules, selector]) => axe.run(selector, {runOnly: {type: 'rule', values: rules},"
        " resultTypes: ['passes', 'violations']})",
        [rules, selector],
    )
    return result
