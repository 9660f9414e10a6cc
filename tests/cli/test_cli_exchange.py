"""``huiju certs`` and ``huiju exchange log/verify-log`` as an integrator uses them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from exchange.log import Direction, Kind, Outcome, append
from huiju.app.bootstrap import build_runtime
from huiju.cli import main
from huiju.settings import load_settings


@pytest.fixture()
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("HUIJU_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("HUIJU_ENV", "test")
    monkeypatch.setenv("HUIJU_LANG", "en")
    runner = CliRunner()
    assert runner.invoke(main, ["init", "--no-demo-data"]).exit_code == 0
    yield runner


def run(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(main, list(args))


def serial_of(listing: str, member: str, role: str, status: str = "active") -> str:
    for line in listing.splitlines():
        cells = line.split()
        if cells[:3] == [member, role, status]:
            return cells[3]
    raise AssertionError(f"no {status} {member} {role} certificate in:\n{listing}")


def test_certs_init_list_rotate_revoke(cli: CliRunner, tmp_path: Path) -> None:
    made = run(cli, "certs", "init")
    assert made.exit_code == 0, made.output
    assert (tmp_path / "certs" / "ca.cert.pem").is_file()
    listing = run(cli, "certs", "list").output
    for member in ("huiju", "sandbox"):
        for role in ("signing", "tls-server", "tls-client"):
            serial_of(listing, member, role)
    again = run(cli, "certs", "init")
    assert again.exit_code != 0 and "a CA already exists" in again.output

    old = serial_of(listing, "huiju", "signing")
    rotated = run(cli, "certs", "rotate")
    assert rotated.exit_code == 0 and "new signing certificate for huiju" in rotated.output
    listing = run(cli, "certs", "list").output
    assert serial_of(listing, "huiju", "signing", "superseded") == old
    new = serial_of(listing, "huiju", "signing")
    assert new != old

    revoked = run(cli, "certs", "revoke", new, "--reason", "keyCompromise")
    assert revoked.exit_code == 0 and f"serial {new}" in revoked.output
    assert serial_of(run(cli, "certs", "list").output, "huiju", "signing", "revoked") == new
    assert "-----BEGIN X509 CRL-----" in (tmp_path / "certs" / "crl.pem").read_text()
    unknown = run(cli, "certs", "revoke", "abcdef")
    assert unknown.exit_code == 3 and "no certificate with serial or fingerprint abcdef" in unknown.output


def test_certs_list_warns_of_near_expiry(cli: CliRunner) -> None:
    assert run(cli, "certs", "init", "--days", "10").exit_code == 0
    listing = run(cli, "certs", "list")
    assert listing.exit_code == 0
    assert "warning: huiju signing certificate" in listing.output


def test_exchange_log_and_verify_log_name_the_altered_entry(cli: CliRunner, tmp_path: Path) -> None:
    rt = build_runtime(load_settings(instance_path=tmp_path, env="test"), with_celery=False)
    for n in range(5):
        with rt.db.transaction() as session:
            append(session, direction=Direction.OUT, kind=Kind.REQUEST, outcome=Outcome.SENT,
                   message_id=f"m-{n}", system="sms", operation="SendSms", case_number="HJ1")  # fmt: skip
    listed = run(cli, "exchange", "log", "--case", "HJ1")
    assert listed.exit_code == 0 and listed.output.count("SendSms") == 5
    ok = run(cli, "exchange", "verify-log")
    assert ok.exit_code == 0 and "intact: 5 entries" in ok.output
    with rt.db.transaction() as session:
        session.execute(text("UPDATE message_log SET operation = 'Forged' WHERE id = 3"))
    rt.db.dispose()
    broken = run(cli, "exchange", "verify-log")
    assert broken.exit_code == 6 and "entry 3 was altered" in broken.output
