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
    assert policy.exit_code == 0 and "time for a provider to accept an offer: 10 minutes" in policy.output
    assert "providers rated below this are flagged: 3.5 of 5" in policy.output
    bad = run(cli, "o2o", "policy", "--accept-within", "ten minutes")
    assert bad.exit_code == 2 and "is not a length of time" in bad.output
    assert "accept an offer: 10 minutes" in run(cli, "o2o", "policy").output  # the refused change left it as it was
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


def test_policy_is_shown_in_words_in_the_terminals_language(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each rule by what it is, durations in words, the complaint time in working days: no column
    name, no ISO 8601 duration."""
    english = run(cli, "o2o", "policy", "--payment-wait", "30 分钟", "--confirm-within", "2d", "--complaint-days", "2")
    assert english.exit_code == 0, english.output
    assert english.output.splitlines() == [
        "time for a provider to accept an offer: 15 minutes",
        "time for the payer to pay: 30 minutes",
        "time after which a done order is confirmed automatically: 2 days",
        "time to answer a complaint: 2 working days",
        "providers rated below this are flagged: 3.0 of 5",
        "ratings a provider needs before being flagged: 3 ratings",
        "how long an approved subsidy grants service credit: 12 months",
    ]
    monkeypatch.setenv("HUIJU_LANG", "zh_CN")
    chinese = run(cli, "o2o", "policy")
    assert chinese.exit_code == 0, chinese.output
    assert chinese.output.splitlines() == [
        "服务商接单时限：15 分钟",
        "付款时限：30 分钟",
        "服务完成后自动确认的时限：2 天",
        "投诉答复时限：2 个工作日",
        "评分低于此值的服务商被标记：3.0 分（满分 5 分）",
        "标记服务商前所需的评价数：3 条评价",
        "补贴批准后发放服务券的时长：12 个月",
    ]
    for said in (english.output, chinese.output):
        assert not any(raw in said for raw in ("PT", "P2D", "accept_within", "complaint_days", "_tenths")), said
    refused = run(cli, "o2o", "policy", "--payment-wait", "half an hour")
    assert refused.exit_code == 2
    assert refused.output.strip() == ("错误：付款时限：“half an hour”不是时长，应如 15 分钟、2 小时或 3 天")
    assert (
        run(cli, "o2o", "policy", "--complaint-days", "0").output.strip()
        == "错误：投诉答复时限：应为 1 到 30 之间的整数"
    )
    assert run(cli, "o2o", "policy", "--rating-threshold", "9").output.strip() == (
        "错误：评分低于此值的服务商被标记：应为 1.0 到 5.0 之间的评分，精确到 0.1"
    )
    assert "付款时限：30 分钟" in run(cli, "o2o", "policy").output  # nothing was changed by the refusals
    monkeypatch.setenv("HUIJU_LANG", "en")
    assert run(cli, "o2o", "policy", "--complaint-days", "0").output.strip() == (
        "error: time to answer a complaint: a whole number from 1 to 30"
    )
    one = run(cli, "o2o", "policy", "--accept-within", "PT1H30M", "--complaint-days", "1").output.splitlines()
    assert one[0] == "time for a provider to accept an offer: 1 hour 30 minutes"
    assert one[3] == "time to answer a complaint: 1 working day"
    for written in ("90 minutes", "1h30m", "1 小时 30 分钟", "PT1H30M"):  # in words, in short, or as ISO 8601
        assert run(cli, "o2o", "policy", "--accept-within", written).output.splitlines()[0] == (
            "time for a provider to accept an offer: 1 hour 30 minutes"
        ), written
    for refused in ("30", "2 months", "0 minutes", "1h and"):
        said = run(cli, "o2o", "policy", "--accept-within", refused).output.strip()
        assert said.startswith("error: time for a provider to accept an offer: "), said


def test_staff_of_another_role_is_refused_naming_the_role_in_words(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    english = run(cli, "o2o", "staff", "LESHAN", "resident-zhang")
    assert english.output.strip() == "error: 'resident-zhang' is not an account of the role Service provider"
    monkeypatch.setenv("HUIJU_LANG", "zh_CN")
    chinese = run(cli, "o2o", "staff", "LESHAN", "resident-zhang")
    assert chinese.output.strip() == "错误：“resident-zhang”不是服务商角色的账号"
