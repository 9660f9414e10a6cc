"""Benchmark: the resident roster import (居民信息导入) of a community office's file, side by side.

One generated file of N rows (default 10,000: valid GB 11643 ID numbers, phones, addresses and
households over the demo's three communities, 1 % of them refused) goes through, in one run:

(a) checking only: reading and checking the whole file (:func:`huiju.services.roster.start_import`);
(b) a dry run: checking, then comparing every accepted row with the residents on record;
(c) the first import: checking, then adding every accepted row, in chunks of 500;
(d) the same file again: nothing changes (every row compares equal);
(e) the same as XLSX (openpyxl), first import into an empty copy.

It prints seconds and rows per second for each, and each against (c). The target is the first
import of 10,000 rows in under a minute. SQLite in a temporary folder, as the embedded default.

Usage: ``python bench/roster.py [-n N]``.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from stdnum.cn import ric  # noqa: E402

from huiju.app.bootstrap import build_runtime  # noqa: E402
from huiju.app.seed import seed_orgs  # noqa: E402
from huiju.models import Role  # noqa: E402
from huiju.runtime import Runtime  # noqa: E402
from huiju.services import roster  # noqa: E402
from huiju.services.actors import Actor  # noqa: E402
from huiju.settings import load_settings  # noqa: E402

HEADINGS = ["序号", "姓名", "身份证号码", "联系电话", "居住地址", "户号", "所属社区"]
COMMUNITIES = ["望京西园社区", "花家地社区", "六里屯北社区"]
ADMIN = Actor("bench-admin", Role.ADMINISTRATOR)


def rows(n: int, rng: random.Random) -> list[list[str]]:
    out = []
    for i in range(n):
        base = f"110105{1940 + i % 60:04d}{1 + i % 12:02d}{1 + i % 28:02d}{i // 336 % 1000:03d}"
        number = base + ric.calc_check_digit(base + "0")
        if i % 100 == 99:  # 1 %: a mistyped check digit
            number = base + ("0" if number[-1] != "0" else "1")
        phone = f"139{rng.randrange(10**8):08d}"
        out.append([str(i + 1), f"居民{i:05d}", number, phone, f"望京西园{i % 9 + 1}区 {i % 30}-{i % 6}-{i % 20}01",
                    f"H{i // 3:05d}", COMMUNITIES[i % 3]])  # fmt: skip
    return out


def as_csv(data: list[list[str]]) -> bytes:
    return "\r\n".join(",".join(r) for r in [HEADINGS, *data]).encode("utf-8-sig")


def as_xlsx(data: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADINGS)
    for r in data:
        sheet.append(r)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def fresh_runtime(folder: Path) -> Runtime:
    folder.mkdir(parents=True, exist_ok=True)
    rt = build_runtime(load_settings(instance_path=folder, env="test", exchange_signing=False), with_celery=False)
    rt.db.create_all()
    with rt.db.transaction() as session:
        seed_orgs(session)
    return rt


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def run_import(rt: Runtime, name: str, data: bytes, *, dry_run: bool, apply: bool = True) -> roster.RosterImport | int:
    with rt.db.transaction() as session:
        job_id = roster.start_import(session, ADMIN, name, data, dry_run=dry_run).id
    if not apply:
        return job_id
    return roster.run_import(rt.db, ADMIN, job_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000)
    n = parser.parse_args().n
    data = rows(n, random.Random(7))
    csv_bytes, xlsx_bytes = as_csv(data), as_xlsx(data)
    with tempfile.TemporaryDirectory() as tmp:
        rt = fresh_runtime(Path(tmp) / "a")
        results: list[tuple[str, float, object]] = []
        for label, kwargs in (("(a) checking only", {"dry_run": True, "apply": False}),
                              ("(b) dry run", {"dry_run": True}),
                              ("(c) first import", {"dry_run": False}),
                              ("(d) the same file again", {"dry_run": False})):  # fmt: skip
            seconds, job = timed(lambda kwargs=kwargs: run_import(rt, "roster.csv", csv_bytes, **kwargs))  # type: ignore[misc]
            results.append((label, seconds, job))
        rt.db.dispose()
        other = fresh_runtime(Path(tmp) / "b")
        seconds, job = timed(lambda: run_import(other, "roster.xlsx", xlsx_bytes, dry_run=False))
        results.append(("(e) first import, XLSX", seconds, job))
        other.db.dispose()
    first = results[2][1]
    print(f"roster import, {n} rows (1 % refused), SQLite, chunks of {roster.CHUNK}")
    for label, seconds, job in results:
        counts = ""
        if isinstance(job, roster.RosterImport):
            counts = (f"  added {job.added} updated {job.updated} unchanged {job.unchanged} "
                      f"refused {len(job.refusals)}")  # fmt: skip
        print(f"{label:<28}{seconds:8.2f} s  {n / seconds:9.0f} rows/s  {seconds / first:5.2f}× (c){counts}")
    verdict = "under" if first < 60 else "OVER"
    print(f"first import of {n} rows: {first:.1f} s, {verdict} the one-minute target")


if __name__ == "__main__":
    main()
