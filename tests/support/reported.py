"""Lines some tests report for the reader, listed at the end of the run.

A test reports a line with ``record_property(REPORTED, line)`` (the fault-injection test says how
many cases it ran and what it killed). The line travels in the test's report, so it reaches the end
of the run from whichever test process ran the test (``make test`` runs two).
"""

from __future__ import annotations

import pytest

#: The name of a test's property that holds a line for the reader.
REPORTED = "reported"


class ReportedLines:
    """The plugin that gathers the reported lines and lists them in the run's summary."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            self.lines.extend(str(value) for name, value in report.user_properties if name == REPORTED)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.lines:
            terminalreporter.section("what the tests saw")
            for line in self.lines:
                terminalreporter.write_line(line)
