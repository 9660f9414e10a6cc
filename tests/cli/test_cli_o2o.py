"""``huiju o2o`` and ``huiju open311``: what they print, their exit codes, nothing half-written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from openpyxl import load_workbook

from huiju.cli import main


@pytest.fixture()
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("HUIJU_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("HUIJU_ENV", "test")
    monkeypatch.setenv("HUIJU_LANG", "en")
    runner = CliRunner()
    result = runner.invoke(main, ["init"])
    assert result.exit_code == 0, result.output
    yield runner


def run(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(main, list(args))


def test_credit_providers_policy_and_links(cli: CliRunner) -> None:
    statement = run(cli, "o2o", "statement", "110105193801012340")
    assert statement.exit_code == 0, statement.output
    assert "张秀英: balance ¥600.00" in statement.output and "¥600.00 a month" in statement.output
    again = run(cli, "o2o", "top-up")
    assert again.exit_code == 0 and "0 top-up(s), ¥0.00 in all" in again.output  # this month: given at init
    providers = run(cli, "o2o", "providers")
    assert providers.exit_code == 0 and "LESHAN" in providers.output and "望京物业服务有限公司" in providers.output
    policy = run(cli, "o2o", "policy", "--accept-within", "PT10M", "--rating-threshold", "3.5")
    assert policy.exit_code == 0 and "PT10M" in policy.output and "3.5" in policy.output
    bad = run(cli, "o2o", "policy", "--accept-within", "ten minutes")
    assert bad.exit_code == 2 and "is not a duration" in bad.output
    assert "PT10M" in run(cli, "o2o", "policy").output  # the refused change left the rule as it was
    linked = run(cli, "o2o", "link", "--family", "family-zhang", "--parent", "110105193801012340", "--name", "张秀英",
                 "--as", "officer-chaoyang-01")  # fmt: skip
    assert linked.exit_code == 0 and "family-zhang may now order for 张秀英" in linked.output
    elsewhere = run(cli, "o2o", "link", "--family", "family-zhang", "--parent", "110105193801012340", "--name",
                    "张秀英", "--as", "officer-liulitun-01")  # fmt: skip
    assert elsewhere.exit_code == 4 and "lives in another community" in elsewhere.output


def test_staff_accounts_work_for_one_provider(cli: CliRunner) -> None:
    assert run(cli, "o2o", "staff", "YIYANG", "provider-yiyang").exit_code == 0  # bound already: nothing changes
    other = run(cli, "o2o", "staff", "LESHAN", "provider-yiyang")
    assert other.exit_code == 5 and "works for another provider" in other.output
    assert run(cli, "o2o", "staff", "LESHAN", "resident-zhang").exit_code == 2
    assert run(cli, "o2o", "staff", "NOBODY", "provider-yiyang").exit_code == 3


def test_settle_and_export_a_month_without_orders(cli: CliRunner, tmp_path: Path) -> None:
    nothing = run(cli, "o2o", "settle", "2020-01")
    assert nothing.exit_code == 5 and "nothing to settle" in nothing.output
    future = run(cli, "o2o", "settle", "2099-01")
    assert future.exit_code == 2 and "has not ended yet" in future.output
    assert run(cli, "o2o", "settle", "2020-13").exit_code == 2
    refused = run(cli, "o2o", "settle", "2020-01", "--as", "officer-chaoyang-01")
    assert refused.exit_code == 4
    out = tmp_path / "s.xlsx"
    exported = run(cli, "o2o", "export", "2020-01", "--format", "xlsx", "--out", str(out))
    assert exported.exit_code == 0 and "0 settlement(s)" in exported.output
    assert load_workbook(out).sheetnames == ["settlements", "orders"]


def test_open311_channel_keys(cli: CliRunner) -> None:
    added = run(cli, "open311", "key", "hotline-12345")
    assert added.exit_code == 0
    key = added.output.strip().splitlines()[-1]
    assert len(key) >= 40
    listed = run(cli, "open311", "list")
    assert "hotline-12345" in listed.output and key[:6] in listed.output and "active" in listed.output
    assert run(cli, "open311", "key", "hotline-12345").exit_code == 2  # one key per channel name
    assert run(cli, "open311", "revoke", "hotline-12345").exit_code == 0
    assert "revoked" in run(cli, "open311", "list").output
