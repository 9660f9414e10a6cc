"""The command line of a production start, without demo data: the first administrator, offices, the
resident roster, process deployment, and the audit trail they leave (verified; an altered row named)."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from huiju.app.bootstrap import build_runtime
from huiju.cli import main
from huiju.settings import load_settings

sys.path.insert(0, str(Path(__file__).parents[1] / "admin"))
from roster_support import BAD_CHECK_DIGIT, NEW_1, NEW_2  # noqa: E402

PROCESS = Path(__file__).parents[2] / "workflows_bpmn" / "processes" / "community_approval.bpmn"


@pytest.fixture()
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("HUIJU_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("HUIJU_ENV", "production")
    monkeypatch.setenv("HUIJU_SECRET_KEY", "a-production-secret-of-forty-eight-bytes-or-so-00")
    monkeypatch.setenv("HUIJU_EXCHANGE_SIGNING", "false")
    monkeypatch.setenv("HUIJU_LANG", "en")
    runner = CliRunner()
    result = runner.invoke(main, ["init", "--no-demo-data"])
    assert result.exit_code == 0, result.output
    yield runner


def run(runner: CliRunner, *args: str, stdin: str | None = None) -> Result:
    return runner.invoke(main, list(args), input=stdin)


def test_a_production_start_needs_no_demo_data(cli: CliRunner, tmp_path: Path) -> None:
    refused = run(cli, "process", "deploy", str(PROCESS))
    assert refused.exit_code == 3 and "there is no administrator account yet" in refused.output
    created = run(cli, "users", "create", "ops-chen", "--role", "administrator", "--display-name", "运维 陈工")
    assert created.exit_code == 0, created.output
    assert re.search(r"temporary password \(shown once; to be changed at the first sign-in\): \w{12}", created.output)
    deployed = run(cli, "process", "deploy", str(PROCESS))
    assert deployed.exit_code == 0 and "community_approval version 1" in deployed.output
    listed = run(cli, "users", "list")
    assert "ops-chen" in listed.output and "must change password" in listed.output

    assert run(cli, "offices", "add", "110105", "北京市朝阳区", "--level", "district").exit_code == 0
    assert run(cli, "offices", "add", "110105001", "望京街道", "--level", "street", "--parent", "110105").exit_code == 0
    bad = run(cli, "offices", "add", "110105001001", "望京西园社区", "--level", "community", "--parent", "110105")
    assert bad.exit_code == 2 and "a community sits under a street" in bad.output
    assert run(cli, "offices", "add", "110105001001", "望京西园社区", "--level", "community", "--parent",
               "110105001").exit_code == 0  # fmt: skip
    officer = run(cli, "users", "create", "officer-wjxy-01", "--role", "community_officer", "--office", "望京西园社区",
                  "--password-stdin", stdin="wangjing2027\n")  # fmt: skip
    assert officer.exit_code == 0 and "temporary password" not in officer.output

    roster = tmp_path / "居民信息.csv"
    roster.write_text(f"姓名,身份证号码,联系电话,所属社区\n王建华,{NEW_1},13910500001,望京西园社区\n"
                      f"李桂兰,{NEW_2},,望京西园社区\n赵国强,{BAD_CHECK_DIGIT},,望京西园社区\n", encoding="utf-8-sig")  # fmt: skip
    dry = run(cli, "residents", "import", str(roster), "--dry-run")
    assert dry.exit_code == 2, dry.output
    assert "would add 2, update 0; unchanged 0; refused 1" in dry.output
    assert "row 4 (赵** 110105********0045): the check digit (18th character) is 5" in dry.output
    done = run(cli, "residents", "import", str(roster))
    assert "added 2, updated 0; unchanged 0; refused 1" in done.output
    again = run(cli, "residents", "import", str(roster))
    assert "added 0, updated 0; unchanged 2; refused 1" in again.output

    log = run(cli, "audit", "log")
    assert log.exit_code == 0
    assert [line.split()[0] for line in log.output.splitlines()] == [str(n) for n in range(8, 0, -1)]
    assert "cli:" in log.output.splitlines()[-1] and "command line  created an account  ops-chen" in log.output
    # In words, as the console's page: no key, code or JSON of the record (that is the CSV export's).
    assert "ops-chen  — -> Display name: 运维 陈工; Role: Administrator; Office: —; Account in use: yes" in log.output
    assert "user:" not in log.output and '":' not in log.output and "roster.import" not in log.output
    assert (
        run(cli, "audit", "log", "--action", "roster.import", "--csv").output.count("imported a resident roster") == 3
    )
    verified = run(cli, "audit", "verify")
    assert verified.exit_code == 0 and "the audit trail is intact: 9 entries" in verified.output

    rt = build_runtime(load_settings(instance_path=tmp_path, env="test"), with_celery=False)
    with rt.db.transaction() as session:  # altered in the database, behind the triggers' back
        session.execute(text("DROP TRIGGER audit_entry_no_update"))
        session.execute(text("UPDATE audit_entry SET actor = 'someone' WHERE id = 4"))
    rt.db.dispose()
    broken = run(cli, "audit", "verify")
    assert broken.exit_code == 6
    assert "audit entry 4 was altered" in broken.output and "someone" in broken.output


def test_adapters_of_a_production_start_wait_for_their_endpoints(cli: CliRunner) -> None:
    listed = run(cli, "adapters", "list")
    assert listed.exit_code == 0, listed.output
    for system in ("citizen_info", "sms", "egov_approval", "data_exchange", "payment"):
        line = next(li for li in listed.output.splitlines() if li.startswith(system))
        assert "disabled" in line and "(no endpoint)" in line
    # The payment platform (O2O) is a registered system like the government ones, with a probe.
    shown = run(cli, "adapters", "show", "payment")
    assert shown.exit_code == 0, shown.output
    assert "payment.create_payment(order_number, amount_fen, description, payer_phone) -> CreatePayment" in shown.output
    assert "payment.query_payment(payment_id) -> QueryPayment  (test connection)" in shown.output


def test_certs_crl_refreshes_the_list_and_the_store_changes_are_audited(cli: CliRunner, tmp_path: Path) -> None:
    assert run(cli, "certs", "init").exit_code == 0
    refreshed = run(cli, "certs", "crl", "--days", "7")
    assert refreshed.exit_code == 0, refreshed.output
    assert "crl.pem: CN=Huiju Development CA,O=Huiju, 0 revoked, next update" in refreshed.output
    assert "PAST" not in refreshed.output
    own = run(cli, "certs", "crl", "--import", str(tmp_path / "certs" / "crl.pem"))
    assert own.exit_code != 0 and "our own CA's list" in own.output
    assert run(cli, "certs", "rotate").exit_code == 0
    created = run(cli, "users", "create", "ops-li", "--role", "administrator")
    assert created.exit_code == 0
    log = run(cli, "audit", "log").output
    assert "refreshed a revocation list  crl.pem  — -> Valid for: 7 days" in log and "rotated a certificate" in log
