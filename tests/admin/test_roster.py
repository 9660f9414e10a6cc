"""Resident roster import: the exact report of a file with good and bad rows; a dry run that writes
nothing; a second import of the same file that changes nothing."""

from __future__ import annotations

import json

import pytest
from roster_support import NEW_1, NEW_2, REFUSED, csv_bytes, known_resident, xlsx_bytes
from sqlalchemy import func, select

from huiju.errors import ConflictError, InputError, PermissionDenied
from huiju.models import AuditEntry, ImportStatus, Resident
from huiju.runtime import Runtime
from huiju.services import roster
from huiju.services.actors import load_actor


def _admin(runtime: Runtime):  # type: ignore[no-untyped-def]
    with runtime.db.sessions() as session:
        return load_actor(session, "admin")


def _import(runtime: Runtime, name: str, data: bytes, *, dry_run: bool = False):  # type: ignore[no-untyped-def]
    with runtime.db.transaction() as session:
        job_id = roster.start_import(session, _admin(runtime), name, data, dry_run=dry_run).id
    seen: list[tuple[int, int]] = []
    job = roster.run_import(runtime.db, _admin(runtime), job_id, progress=lambda d, t: seen.append((d, t)))
    return job, seen


def _residents(runtime: Runtime) -> list[tuple[str, str | None, str | None, str | None, int]]:
    with runtime.db.sessions() as session:
        return [tuple(r) for r in session.execute(  # type: ignore[misc]
            select(Resident.id_number, Resident.phone, Resident.address, Resident.household, Resident.community_id)
            .order_by(Resident.id_number))]  # fmt: skip


@pytest.mark.parametrize("kind", ["csv", "gb18030.csv", "xlsx"])
def test_good_and_bad_rows_give_the_exact_report(runtime: Runtime, kind: str) -> None:
    data = (
        xlsx_bytes(runtime)
        if kind == "xlsx"
        else csv_bytes(runtime, "gb18030" if kind.startswith("gb") else "utf-8-sig")
    )
    known = known_resident(runtime)
    job, seen = _import(runtime, f"望京西园社区居民信息.{kind.split('.')[-1]}", data)
    assert (job.status, job.total, job.added, job.updated, job.unchanged) == (ImportStatus.DONE, 8, 2, 1, 0)
    assert [(r["row"], [x["code"] for x in r["reasons"]]) for r in job.refusals] == REFUSED
    assert seen[-1] == (3, 3)
    texts = {r["row"]: [roster.reason_text(x, "en") for x in r["reasons"]] for r in job.refusals}
    assert "the first 17 digits give X" in texts[4][0]
    assert texts[5] == ["unknown community 望京东园社区"]
    assert texts[6] == ["the same ID number as row 2"]
    assert texts[7] == ["1391050 is not a mainland mobile number (11 digits)"]
    zh = {r["row"]: [roster.reason_text(x, "zh_CN") for x in r["reasons"]] for r in job.refusals}
    assert zh[5] == ["未知社区 望京东园社区"] and zh[6] == ["与第 2 行的身份证号重复"]
    assert job.refusals[0]["name"] == "赵**" and job.refusals[0]["id_number"].startswith("110105")
    assert "197005" not in json.dumps(job.refusals)  # birth dates masked in the report
    with runtime.db.sessions() as session:
        wang = session.scalars(select(Resident).where(Resident.id_number == NEW_1)).one()
        assert (wang.name, wang.phone, wang.household, wang.community.name) == (
            "王建华",
            "13910500001",
            "H0001",
            "望京西园社区",
        )
        assert wang.birth_date.isoformat() == "1950-01-01"
        li = session.scalars(select(Resident).where(Resident.id_number == NEW_2)).one()
        assert li.phone is None and li.community.name == "花家地社区"
        again = session.scalars(select(Resident).where(Resident.id_number == known.id_number)).one()
        assert (again.address, again.household, again.phone) == ("望京西园一区 9-9-909", "H0007", known.phone)
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "roster.import")).one()
        assert json.loads(entry.after or "{}") | {"sha256": ""} == {
            "file": f"望京西园社区居民信息.{kind.split('.')[-1]}",
            "sha256": "",
            "dry_run": False,
            "rows": 8,
            "added": 2,
            "updated": 1,
            "unchanged": 0,
            "refused": 5,
        }


def test_importing_the_same_file_again_changes_nothing(runtime: Runtime) -> None:
    data = csv_bytes(runtime)
    _import(runtime, "roster.csv", data)
    before = _residents(runtime)
    job, _seen = _import(runtime, "roster.csv", data)
    assert (job.added, job.updated, job.unchanged, len(job.refusals)) == (0, 0, 3, 5)
    assert _residents(runtime) == before


def test_a_dry_run_reports_and_writes_nothing(runtime: Runtime) -> None:
    before = _residents(runtime)
    job, _seen = _import(runtime, "roster.csv", csv_bytes(runtime), dry_run=True)
    assert (job.dry_run, job.added, job.updated, job.unchanged) == (True, 2, 1, 0)
    assert [(r["row"], [x["code"] for x in r["reasons"]]) for r in job.refusals] == REFUSED
    assert _residents(runtime) == before


def test_a_name_that_differs_from_the_record_is_refused_not_overwritten(runtime: Runtime) -> None:
    known = known_resident(runtime)
    data = f"姓名,身份证号,所属社区\n冒名顶替,{known.id_number},望京西园社区\n".encode()
    job, _seen = _import(runtime, "r.csv", data)
    assert [(r["row"], [x["code"] for x in r["reasons"]]) for r in job.refusals] == [(2, ["name_conflict"])]
    with runtime.db.sessions() as session:
        assert session.scalar(select(Resident.name).where(Resident.id_number == known.id_number)) == known.name


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("r.pdf", b"%PDF", "a roster is a .csv or .xlsx file"),
        ("r.csv", "姓名,电话\n张三,1\n".encode(), "the file has no column 身份证号"),
        ("r.csv", b"", "the file is empty"),
        ("r.csv", "姓名,身份证号,社区\n".encode(), "the file has no data rows"),
        ("r.xlsx", b"PK\x03\x04 not really", "not a readable XLSX workbook"),
        ("r.csv", b"\xff\xfe\x00garbage\x81", "neither UTF-8 nor GB 18030"),
    ],
)
def test_unreadable_files_are_refused_whole(runtime: Runtime, name: str, data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message), runtime.db.transaction() as session:
        roster.start_import(session, _admin(runtime), name, data, dry_run=False)


def test_only_administrators_import_and_a_finished_import_does_not_run_again(runtime: Runtime) -> None:
    with runtime.db.transaction() as session, pytest.raises(PermissionDenied):
        roster.start_import(session, load_actor(session, "officer-chaoyang-01"), "r.csv", b"x", dry_run=True)
    job, _seen = _import(runtime, "roster.csv", csv_bytes(runtime))
    with runtime.db.transaction() as session, pytest.raises(ConflictError, match="finished already"):
        roster.apply_chunk(session, _admin(runtime), job.id)
    with runtime.db.sessions() as session:
        assert session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "roster.import")) == 1
