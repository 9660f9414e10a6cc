"""Sign-in time for an unknown user name against a known one with a wrong password, side by side
in one run (the ratio should be close to 1: no account enumeration by timing).

    python bench/signin.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Run as a file, Python puts this folder first on sys.path, where exchange.py would shadow the
# exchange package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from huiju.app.bootstrap import build_runtime  # noqa: E402
from huiju.app.seed import seed_all  # noqa: E402
from huiju.errors import PermissionDenied  # noqa: E402
from huiju.services.actors import authenticate  # noqa: E402
from huiju.settings import load_settings  # noqa: E402

ROUNDS = 30


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    try:
        call()
    except PermissionDenied:
        pass
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        rt = build_runtime(load_settings(instance_path=Path(folder), env="test", exchange_signing=False),
                           with_celery=False)  # fmt: skip
        rt.db.create_all()
        with rt.db.transaction() as session:
            seed_all(session, "http://127.0.0.1:9/")
        known: list[float] = []
        unknown: list[float] = []
        with rt.db.sessions() as session:
            for _ in range(ROUNDS):  # interleaved, so that load on the machine falls on both alike
                known.append(timed(lambda: authenticate(session, "officer-chaoyang-01", "wrong-password")))
                unknown.append(timed(lambda: authenticate(session, "nobody-here", "wrong-password")))
        rt.db.dispose()
    k, u = statistics.median(known), statistics.median(unknown)
    print(f"sign-in, known user, wrong password: {k * 1000:.1f} ms (median of {ROUNDS})")
    print(f"sign-in, unknown user:               {u * 1000:.1f} ms (median of {ROUNDS})")
    print(f"unknown / known: {u / k:.2f}")


if __name__ == "__main__":
    main()
