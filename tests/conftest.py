"""What every test process of a run shares."""

from __future__ import annotations

import pytest

from tests.support.reported import ReportedLines


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(ReportedLines(), "huiju-reported-lines")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files of slow tests first: the test processes take the files in this order, and one that
    took a file of several minutes last would run alone at the end while the other waits."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
