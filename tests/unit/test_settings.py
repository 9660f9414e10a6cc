"""A setting given a value it cannot take is refused naming its variable and the value given, and
saying in the reader's language what it takes; the worker's command says so without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from huiju.errors import ConfigurationError
from huiju.settings import load_settings


@pytest.mark.parametrize(
    ("setting", "value", "english", "chinese"),
    [
        ("worker_niceness", "30", "HUIJU_WORKER_NICENESS = “30”: at most 19 is allowed",
         "HUIJU_WORKER_NICENESS = “30”：最大为 19"),
        ("lease_seconds", "abc", "HUIJU_LEASE_SECONDS = “abc”: a number is expected",
         "HUIJU_LEASE_SECONDS = “abc”：应为数字"),
        ("health_outbox_depth", "1.5", "HUIJU_HEALTH_OUTBOX_DEPTH = “1.5”: a whole number is expected",
         "HUIJU_HEALTH_OUTBOX_DEPTH = “1.5”：应为整数"),
        ("exchange_signing", "maybe", "HUIJU_EXCHANGE_SIGNING = “maybe”: true or false is expected",
         "HUIJU_EXCHANGE_SIGNING = “maybe”：应为 true 或 false"),
        ("lang", "fr", "HUIJU_LANG = “fr”: one of 'zh_CN' or 'en' is expected",
         "HUIJU_LANG = “fr”：应为 'zh_CN' or 'en' 之一"),
        ("health_timeout", "0", "HUIJU_HEALTH_TIMEOUT = “0”: more than 0 is needed",
         "HUIJU_HEALTH_TIMEOUT = “0”：应大于 0"),
        ("decision_query_after", "tomorrow",
         "HUIJU_DECISION_QUERY_AFTER = “tomorrow”: not a wait such as P1D or PT30M: 'tomorrow'",
         "HUIJU_DECISION_QUERY_AFTER = “tomorrow”：不是有效的等候时长（如 P1D、PT30M）：'tomorrow'"),
    ],
)  # fmt: skip
def test_a_setting_out_of_its_range_is_refused_in_words(setting: str, value: str, english: str, chinese: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings(**{setting: value})
    assert refused.value.text.localize("en") == f"invalid Huiju setting: {english}"
    assert refused.value.text.localize("zh_CN") == f"汇聚配置项无效：{chinese}"


def test_two_bad_settings_are_both_named() -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings(worker_niceness="-1", sweep_seconds="often")
    text = refused.value.text.localize("en")
    assert "HUIJU_WORKER_NICENESS = “-1”: at least 0 is needed" in text
    assert "HUIJU_SWEEP_SECONDS = “often”: a number is expected" in text


def test_the_worker_command_refuses_a_bad_niceness_without_a_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUIJU_")}
    env.update(HUIJU_INSTANCE_PATH=str(tmp_path), HUIJU_WORKER_NICENESS="30", HUIJU_LANG="en")
    done = subprocess.run([sys.executable, "-m", "huiju.cli", "worker"], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode != 0
    assert "HUIJU_WORKER_NICENESS = “30”: at most 19 is allowed" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
