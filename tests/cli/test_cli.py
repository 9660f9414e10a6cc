"""The ``huiju`` command: specific messages, exit codes, and nothing half-written on bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from huiju.app.bootstrap import build_runtime
from huiju.cli import main
from huiju.models import Case, CaseEvent
from huiju.settings import load_settings
from workflows_bpmn.models import HumanTask, ProcessDefinition, ProcessInstance

SUBSIDY_BPMN = Path(__file__).parents[2] / "workflows_bpmn" / "processes" / "elderly_care_subsidy.bpmn"
FORM = '{"income_band": "subsistence", "disability": "none", "living_alone": true}'


@pytest.fixture()
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("HUIJU_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("HUIJU_ENV", "test")
    monkeypatch.setenv("HUIJU_LANG", "en")  # the assertions below read the English texts
    runner = CliRunner()
    result = runner.invoke(main, ["init"])
    assert result.exit_code == 0, result.output
    yield runner


def run(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(main, list(args))


def materials(folder: Path) -> list[str]:
    """The required materials of the elderly-care subsidy, as the demo's sample files."""
    from huiju.app.demo import sample_materials

    id_card, register = sample_materials(folder / "samples")
    return ["--material", f"id_card={id_card}", "--material", f"household_register={register}"]


def counts(tmp_path: Path) -> tuple[int, ...]:
    rt = build_runtime(load_settings(instance_path=tmp_path, env="test"), with_celery=False)
    with rt.db.sessions() as s:
        found = tuple(
            s.scalar(select(func.count()).select_from(m)) or 0
            for m in (Case, CaseEvent, ProcessInstance, HumanTask, ProcessDefinition)
        )
    rt.db.dispose()
    return found


def test_init_is_idempotent_and_lists_the_deployed_process(cli: CliRunner) -> None:
    again = run(cli, "init")
    assert again.exit_code == 0
    assert "elderly_care_subsidy v1 (unchanged)" in again.output
    listed = run(cli, "process", "list")
    assert listed.exit_code == 0 and "elderly_care_subsidy" in listed.output and "v1" in listed.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--item", "no-such-item", "--applicant", "110105193801012340", "--data", FORM], 3, "unknown item 'no-such-item'"),
        (["--item", "elderly-care-subsidy", "--applicant", "110105193801012341", "--data", FORM], 2, "check digit"),
        (["--item", "elderly-care-subsidy", "--applicant", "11010519380101234", "--data", FORM], 2, "18 characters"),
        (["--item", "elderly-care-subsidy", "--applicant", "110105193801012340", "--data", '{"income_band": "rich"}'],
         2, "Choose one of the options for Family income."),
        (["--item", "elderly-care-subsidy", "--applicant", "110105193801012340", "--data", "{oops"], 2, "not valid JSON"),
        (["--item", "elderly-care-subsidy", "--applicant", "110105193801012340", "--data", FORM,
          "--as", "nobody"], 3, "no active account"),
    ],
)  # fmt: skip
def test_bad_submissions_are_refused_and_write_nothing(
    cli: CliRunner, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    before = counts(tmp_path)
    result = run(cli, "case", "submit", *args, *materials(tmp_path))
    assert result.exit_code == code, result.output
    assert message in result.output
    assert counts(tmp_path) == before


def test_submit_then_task_list_and_bad_completions(cli: CliRunner, tmp_path: Path) -> None:
    submitted = run(cli, "case", "submit", "--item", "elderly-care-subsidy", "--applicant", "110105193801012340",
                    "--data", FORM, *materials(tmp_path))  # fmt: skip
    assert submitted.exit_code == 0 and "status: Submitted(submitted)" in submitted.output
    number = submitted.output.split()[1]
    shown = run(cli, "case", "show", number)
    # Words, never codes, in English too: the timeline in the officer's terms.
    assert "Handling started" in shown.output and "Government system called" in shown.output
    assert "process_started" not in shown.output and "service_requested" not in shown.output
    # The receipt SMS (受理回执) goes out first; the identity check follows once it is settled.
    assert "SMS platform  Government system called" in shown.output and "Send an SMS" in shown.output
    assert "citizen_info" not in shown.output
    # No worker runs here: the receipt SMS waits in the outbox, and no task is ready yet.
    assert "no tasks" in run(cli, "task", "list", "--as", "officer-chaoyang-01").output
    before = counts(tmp_path)
    missing = run(cli, "task", "complete", "0" * 36, "--as", "officer-chaoyang-01", "--decision", "accept")
    assert missing.exit_code == 3 and "no task" in missing.output
    assert counts(tmp_path) == before


def test_process_validate_names_the_problem(cli: CliRunner, tmp_path: Path) -> None:
    ok = run(cli, "process", "validate", str(SUBSIDY_BPMN))
    assert ok.exit_code == 0 and "elderly_care_subsidy" in ok.output
    bad = tmp_path / "bad.bpmn"
    bad.write_text(SUBSIDY_BPMN.read_text(encoding="utf-8").replace(
        'id="citizen_info.verify_identity"', 'id="citizen_info.steal_everything"'), encoding="utf-8")  # fmt: skip
    refused = run(cli, "process", "validate", str(bad))
    assert refused.exit_code == 2
    assert "unknown service operation 'citizen_info.steal_everything'" in refused.output
    assert "verify_identity" in refused.output
    twice = tmp_path / "twice.bpmn"
    twice.write_text(bad.read_text(encoding="utf-8").replace(
        'id="citizen_info.query_person"', 'id="citizen_info.read_minds"'), encoding="utf-8")  # fmt: skip
    both = run(cli, "process", "validate", str(twice))  # every problem, then how many
    assert both.exit_code == 2 and "'citizen_info.steal_everything'" in both.output
    assert "'citizen_info.read_minds'" in both.output and "2 problem(s) found; nothing was deployed" in both.output
    (tmp_path / "notxml.bpmn").write_text("this is not xml", encoding="utf-8")
    assert "not an XML file" in run(cli, "process", "validate", str(tmp_path / "notxml.bpmn")).output
    (tmp_path / "other.bpmn").write_text("<html><body/></html>", encoding="utf-8")
    other = run(cli, "process", "validate", str(tmp_path / "other.bpmn"))
    assert other.exit_code == 2 and "neither a BPMN 2.0 nor a DMN file" in other.output


def test_process_validate_says_schema_refusals_in_the_terminals_language(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the BPMN 2.0 schema refuses, in words naming the element, attribute and line: never its
    own English nor its {namespace}element notation."""
    path = tmp_path / "subsidy.bpmn"
    text = SUBSIDY_BPMN.read_text(encoding="utf-8")
    path.write_text(text.replace('isExecutable="true"', 'isExecutable="yes"', 1), encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if 'isExecutable="true"' in row)
    english = run(cli, "process", "validate", str(path))
    assert english.exit_code == 2
    assert english.output.strip() == (
        f"error: subsidy.bpmn: process 'elderly_care_subsidy' (line {line}): isExecutable 'yes' must be true or false"
    )
    monkeypatch.setenv("HUIJU_LANG", "zh_CN")
    chinese = run(cli, "process", "validate", str(path))
    assert chinese.exit_code == 2
    assert chinese.output.strip() == (
        f"错误：subsidy.bpmn：process“elderly_care_subsidy”（第{line}行）：isExecutable 的值“yes”应为 true 或 false"
    )


def test_deploy_needs_an_administrator_and_makes_a_new_version(cli: CliRunner, tmp_path: Path) -> None:
    refused = run(cli, "process", "deploy", str(SUBSIDY_BPMN), "--as", "officer-chaoyang-01")
    assert refused.exit_code == 4 and "only administrators" in refused.output
    same = run(cli, "process", "deploy", str(SUBSIDY_BPMN))
    assert same.exit_code == 0 and "unchanged" in same.output and "version 1" in same.output
    changed = tmp_path / "elderly_care_subsidy.bpmn"
    changed.write_text(
        SUBSIDY_BPMN.read_text(encoding="utf-8").replace("社区受理", "社区受理（新版）"), encoding="utf-8"
    )
    # The DMN it calls is found beside the original; copy it beside the changed file.
    dmn = SUBSIDY_BPMN.with_name("elderly_care_subsidy_tier.dmn")
    (tmp_path / dmn.name).write_text(dmn.read_text(encoding="utf-8"), encoding="utf-8")
    deployed = run(cli, "process", "deploy", str(changed))
    assert deployed.exit_code == 0 and "deployed elderly_care_subsidy version 2" in deployed.output


def test_the_command_line_speaks_chinese_by_default(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("HUIJU_LANG")
    refused = run(cli, "case", "submit", "--item", "no-such-item", "--applicant", "110105193801012340", "--data", FORM)
    assert refused.exit_code == 3
    assert "错误：未知事项“no-such-item”" in refused.output
    submitted = run(cli, "case", "submit", "--item", "elderly-care-subsidy", "--applicant", "110105193801012340",
                    "--data", FORM, *materials(tmp_path))  # fmt: skip
    assert submitted.exit_code == 0, submitted.output
    assert "已提交；状态：" in submitted.output
    number = submitted.output.split()[1]
    shown = run(cli, "case", "show", number)
    assert "办理过程" in shown.output and "开始办理" in shown.output and "调用政务系统" in shown.output
    assert "process_started" not in shown.output
    listed = run(cli, "case", "list")
    assert number in listed.output and "已提交" in listed.output  # the receipt SMS is not settled: no worker
    assert "暂无待办" in run(cli, "task", "list", "--as", "officer-chaoyang-01").output
    monkeypatch.setenv("HUIJU_LANG", "en")
    assert "no tasks" in run(cli, "task", "list", "--as", "officer-chaoyang-01").output


def test_db_commands_report_the_schema_revision(cli: CliRunner) -> None:
    from huiju.migrate import head_revision

    head = head_revision()
    assert head
    current = run(cli, "db", "current")
    assert current.exit_code == 0 and f"database: {head}; newest: {head}" in current.output
    upgraded = run(cli, "db", "upgrade")
    assert upgraded.exit_code == 0 and f"schema at revision {head}" in upgraded.output


def test_exchange_retry_refuses_unknown_messages(cli: CliRunner) -> None:
    missing = run(cli, "exchange", "retry", "no-such-message")
    assert missing.exit_code == 3 and "no message no-such-message" in missing.output
    officer = run(cli, "exchange", "retry", "no-such-message", "--as", "resident-zhang")
    assert officer.exit_code == 4


def test_help_is_in_chinese_by_default_and_in_english_when_asked(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUIJU_LANG")
    top = run(cli, "--help")
    assert top.exit_code == 0
    assert "用法：" in top.output and "选项" in top.output and "命令" in top.output
    assert "汇聚：智慧社区政务服务流程引擎。" in top.output and "提交、查看和列出办件。" in top.output
    submit = run(cli, "case", "submit", "--help").output
    assert "申请人的居民身份证号。" in submit and "[必填]" in submit and "显示本帮助并退出。" in submit
    assert "Submit" not in submit and "Options" not in submit
    sandbox = run(cli, "sandbox", "--help").output  # --host and --port have no help: nothing is said of them
    assert "--payer" in sandbox and "Project-Id-Version" not in sandbox and "收银台" in sandbox
    monkeypatch.setenv("HUIJU_LANG", "en")
    english = run(cli, "case", "submit", "--help").output
    assert "Usage:" in english and "The applicant's resident ID number." in english and "[required]" in english


def test_clicks_refusals_are_in_chinese_by_default_and_in_english_when_asked(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUIJU_LANG")
    missing = run(cli, "case", "submit", "--item", "elderly-care-subsidy")
    assert missing.exit_code == 2
    assert "错误：缺少选项 '--applicant'。" in missing.output and "case submit --help' 查看帮助。" in missing.output
    assert "用法：" in missing.output and "Missing" not in missing.output and "Error" not in missing.output
    unknown = run(cli, "cas")
    assert unknown.exit_code == 2 and "没有命令 'cas'。" in unknown.output
    bad = run(cli, "calendar", "add", "2026-10-01", "someday")
    assert bad.exit_code == 2 and "的值无效：'someday' 不是 'holiday', 'workday' 之一。" in bad.output
    monkeypatch.setenv("HUIJU_LANG", "en")
    english = run(cli, "case", "submit", "--item", "elderly-care-subsidy")
    assert english.exit_code == 2 and "Error: Missing option '--applicant'." in english.output
    assert "case submit --help' for help." in english.output


def test_submitting_follows_the_portals_material_rules(cli: CliRunner, tmp_path: Path) -> None:
    base = ["case", "submit", "--item", "elderly-care-subsidy", "--applicant", "110105193801012340", "--data", FORM]
    before = counts(tmp_path)
    none = run(cli, *base)
    assert none.exit_code == 2
    assert "materials missing: Resident identity card、Household register" in none.output
    assert "id_card" not in none.output and "household_register" not in none.output  # words, never codes
    wrong = tmp_path / "scan.pdf"
    wrong.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    bad = run(cli, *base, "--material", f"id_card={wrong}")
    assert bad.exit_code == 2
    assert "materials missing: Household register" in bad.output
    assert "Resident identity card: the content of 'scan.pdf' does not match its extension" in bad.output
    assert "not a material" in run(cli, *base, *materials(tmp_path), "--material", f"bank_card={wrong}").output
    assert "CODE=FILE" in run(cli, *base, "--material", "id_card").output
    assert counts(tmp_path) == before
    done = run(cli, *base, *materials(tmp_path))
    assert done.exit_code == 0, done.output


def test_not_allowed_exits_4_and_messages_carry_no_internal_ids(cli: CliRunner, tmp_path: Path) -> None:
    base = ["case", "submit", "--item", "elderly-care-subsidy", "--applicant", "110105193801012340", "--data", FORM]
    reviewer = run(cli, *base, *materials(tmp_path), "--as", "reviewer-wangjing-01")
    assert reviewer.exit_code == 4 and "do not submit applications" in reviewer.output
    number = run(cli, *base, *materials(tmp_path)).output.split()[1]
    assert run(cli, "case", "retry", number, "--as", "resident-zhang").exit_code == 4
    calendar = run(cli, "calendar", "add", "2027-10-09", "workday", "--as", "officer-chaoyang-01")
    assert calendar.exit_code == 4
    nothing = run(cli, "case", "retry", number, "--as", "officer-chaoyang-01")
    assert nothing.exit_code == 5
    assert f"case {number} is not held up by a system fault" in nothing.output
    assert "instance" not in nothing.output
    schema = run(cli, *base[:-1], '{"income_band": "rich"}', *materials(tmp_path))
    assert schema.exit_code == 2
    assert "Choose one of the options for 家庭收入类别" in schema.output or "Family income" in schema.output
    assert "is not one of" not in schema.output and "is a required property" not in schema.output


def test_every_command_and_option_has_its_help_in_chinese() -> None:
    from huiju.i18n import Message

    def helps(command: click.Command, path: str) -> Iterator[tuple[str, str]]:
        if command.help:
            yield path, command.help
        for param in command.params:
            if isinstance(param, click.Option) and param.help:
                yield f"{path} {param.opts[0]}", param.help
        for name, sub in getattr(command, "commands", {}).items():
            yield from helps(sub, f"{path} {name}")

    found = list(helps(main, "huiju"))
    assert len(found) > 100
    untranslated = [where for where, text in found if Message(text).localize("zh_CN") == text]
    assert untranslated == []


def test_serve_refuses_a_port_something_listens_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """gunicorn's processes listen with SO_REUSEPORT: started beside another such server, they would
    share its port without a word. The command refuses before gunicorn starts."""
    import socket

    monkeypatch.setenv("HUIJU_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("HUIJU_ENV", "test")
    monkeypatch.setenv("HUIJU_LANG", "en")
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--processes", "2", "--host", "127.0.0.1", "--port", str(port)])
    assert result.exit_code != 0
    assert f"cannot serve on 127.0.0.1:{port}: another program listens on that port" in result.output


@pytest.mark.parametrize("setting", ["HUIJU_SANDBOX_PORT", "HUIJU_SANDBOX_CHECKOUT_PORT"])
def test_the_sandbox_refuses_a_taken_port_in_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    import socket

    monkeypatch.setenv("HUIJU_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("HUIJU_ENV", "test")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv(setting, str(port))
        result = CliRunner().invoke(main, ["sandbox", "--host", "127.0.0.1"])
    assert result.exit_code != 0
    assert f"无法在 127.0.0.1:{port} 上提供服务：已有其他程序在该端口上监听" in result.output
    assert "Traceback" not in result.output and "Address already in use" not in result.output
