"""What every test process of a run shares."""

from __future__ import annotations

import pytest

from tests.support.reported import ReportedLines


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(ReportedLines(), "huiju-reported-lines")
