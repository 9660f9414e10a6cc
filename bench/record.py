"""Run benchmark scripts and keep what they printed: ``python bench/record.py bench/a.py [bench/b.py ...]``.

Each script runs in turn (its output shown as it comes); then a section is appended to
``bench/RESULTS.md`` with the date (UTC), the commit (``+`` when the work tree has changes), the
command and the lines it printed. A script that fails is recorded with its exit status, and the
run goes on with the next one; the exit status of this command is non-zero if any failed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
HEADER = """# Benchmark results

Appended by `make bench` (``bench/record.py``): date (UTC), commit, command, the machine (CPUs, and
its load average when the script started: other work on it slows every figure), and the lines
printed. Compare the ratios within one section; absolute times depend on the machine and its load.
"""


def _commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=HERE.parent, capture_output=True, text=True, check=False)  # noqa: S603,S607
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+" if git("status", "--porcelain", "--untracked-files=no") else "")


def _machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{os.cpu_count()} CPUs, load {load:.1f}"


def run(script: str, extra: list[str]) -> tuple[int, list[str]]:
    command = [sys.executable, script, *extra]
    lines: list[str] = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:  # noqa: S603
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line.rstrip("\n"))
    return process.returncode, lines


def record(script: str, extra: list[str], status: int, lines: list[str], machine: str) -> None:
    if not RESULTS.exists():
        RESULTS.write_text(HEADER, encoding="utf-8")
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    shown = " ".join(["python", script, *extra])
    outcome = "" if status == 0 else f" — exit status {status}"
    body = "\n".join(lines[-200:])
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(f"\n## {when} · commit {_commit()} · `{shown}` · {machine}{outcome}\n\n```\n{body}\n```\n")


def main(argv: list[str]) -> int:
    scripts = [a for a in argv if a.endswith(".py")]
    extra = [a for a in argv if not a.endswith(".py")]
    failed = 0
    for script in scripts:
        machine = _machine()
        status, lines = run(script, extra)
        record(script, extra, status, lines, machine)
        failed += status != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
