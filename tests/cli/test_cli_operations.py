"""``huiju case suspend|resume|move`` and ``huiju process diff|migrate``: an administrator at a
terminal holds, moves and migrates running cases, with a dry run first."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from huiju.cli import main

sys.path.insert(0, str(Path(__file__).parents[1] / "console"))
from processes_support import BPMN, with_check_step  # noqa: E402

FORM = '{"income_band": "subsistence", "disability": "none", "living_alone": true}'


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


def submitted(cli: CliRunner, folder: Path) -> str:
    from huiju.app.demo import sample_materials

    id_card, register = sample_materials(folder / "samples")
    result = run(cli, "case", "submit", "--item", "elderly-care-subsidy", "--applicant", "110105193801012340",
                 "--data", FORM, "--as", "officer-chaoyang-01",
                 "--material", f"id_card={id_card}", "--material", f"household_register={register}")  # fmt: skip
    found = re.search(r"HJ\d{13}", result.output)
    assert result.exit_code == 0 and found, result.output
    return found.group(0)


def test_suspend_resume_and_move_a_case(cli: CliRunner, tmp_path: Path) -> None:
    number = submitted(cli, tmp_path)
    assert "suspended" in run(cli, "case", "suspend", number, "--reason", "核查").output
    assert "suspended" in run(cli, "case", "show", number).output
    again = run(cli, "case", "suspend", number, "--reason", "again")
    assert again.exit_code == 5 and "already suspended" in again.output
    assert run(cli, "case", "resume", number, "--reason", "继续").exit_code == 0
    moved = run(cli, "case", "move", number, "--to", "street_review", "--reason", "线下已受理")
    assert moved.exit_code == 0 and "moved to street_review" in moved.output
    refused = run(cli, "case", "move", number, "--to", "nowhere", "--reason", "x")
    assert refused.exit_code == 2 and "'nowhere' is not a step the case can be moved to" in refused.output
    officer = run(cli, "case", "suspend", number, "--reason", "x", "--as", "officer-chaoyang-01")
    assert officer.exit_code == 4


def test_diff_and_migrate_with_a_dry_run(cli: CliRunner, tmp_path: Path) -> None:
    number = submitted(cli, tmp_path)
    folder = tmp_path / "v2"
    folder.mkdir()
    for name, text in with_check_step().items():
        (folder / name).write_text(text, encoding="utf-8")
    assert run(cli, "process", "deploy", str(folder / BPMN)).exit_code == 0
    diff = run(cli, "process", "diff", "elderly_care_subsidy", "1", "2")
    assert "+ check_materials  user task  材料核对" in diff.output and "2 added, 3 changed, 0 removed" in diff.output
    assert "    + lane member check_materials" in diff.output
    dry = run(cli, "process", "migrate", "elderly_care_subsidy", "--from", "1", "--to", "2", "--dry-run")
    assert dry.exit_code == 0 and "nothing was changed" in dry.output
    assert f"{number}  at sms_received: can move" in dry.output  # no worker here: its receipt SMS waits
    done = run(cli, "process", "migrate", "elderly_care_subsidy", "--from", "1", "--to", "2")
    assert done.exit_code == 0 and "1 migrated, 0 left on version 1" in done.output
    again = run(cli, "process", "migrate", "elderly_care_subsidy", "--from", "1", "--to", "2", "--dry-run")
    assert "0 of 0 would move" in again.output
