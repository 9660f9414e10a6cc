"""bench/inbox.py runs (``--quick``: 1k and 10k open tasks, on SQLite) and prints what it promises:
p50 and p95 of each role and door at each size, and a growth line for each role and door."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_the_inbox_benchmark_prints_its_figures_and_growth() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "inbox.py"), "--quick", "--backend", "sqlite", "--rounds", "8"],
        capture_output=True, text=True, timeout=900, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    figures = re.findall(r"^inbox sqlite (officer|reviewer) +(service|api|console) +(1k|10k) open tasks +"
                         r"p50 +([\d.]+) ms +p95 +([\d.]+) ms$", done.stdout, re.MULTILINE)  # fmt: skip
    assert len(figures) == 2 * 3 * 2, done.stdout
    assert all(0 < float(p50) <= float(p95) for *_, p50, p95 in figures)
    growth = re.findall(r"^growth sqlite (officer|reviewer) +(service|api|console) +p95\(10k\)/p95\(1k\) ([\d.]+)$",
                        done.stdout, re.MULTILINE)  # fmt: skip
    assert {(role, door) for role, door, _ in growth} == {
        (role, door) for role in ("officer", "reviewer") for door in ("service", "api", "console")
    }
    assert all(float(ratio) > 0 for *_, ratio in growth)
