"""Kill -9 the worker at random moments during 240 deliveries: nothing is lost, nothing doubled."""

from __future__ import annotations

import random
import threading
import time

import pytest
from sqlalchemy import func, select

from exchange.log import verify_chain
from exchange.models import MessageStatus, OutboxMessage
from huiju.models import Case, CaseStatus
from tests.integration.conftest import Driver, Sandbox, Worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

APPLICANT = "110105193801012340"
ELIGIBLE = {"income_band": "subsistence", "disability": "none", "living_alone": True}
CALLS = 6  # per case: receipt SMS, identity, person, e-gov report, approval SMS, published record
CASES = 40  # 240 deliveries
KILLS = 6


def _killer(worker: Worker, stop: threading.Event, rng: random.Random, kills: list[float]) -> None:
    while len(kills) < KILLS and not stop.is_set():
        if stop.wait(rng.uniform(0.8, 2.5)):
            break
        worker.kill()  # wherever it is: before a send, mid-call, between the reply and the step
        kills.append(time.monotonic())
        time.sleep(rng.uniform(0.0, 0.5))
        worker.start()


def test_random_kills_during_240_deliveries(driver: Driver, sandbox: Sandbox, worker: Worker) -> None:
    rng = random.Random(20261129)
    # Every call acts, then answers a little late: a wider window for a kill after the send.
    sandbox.fault("*", "delay", count=None, seconds=0.05)
    numbers = [driver.submit(APPLICANT, ELIGIBLE) for _ in range(CASES)]
    stop, kills = threading.Event(), []
    killer = threading.Thread(target=_killer, args=(worker, stop, rng, kills), daemon=True)
    killer.start()
    try:
        # A call cut by a kill waits out its lease (the adapter's timeouts plus a margin) before it is
        # sent again, and several kills may hit one case: allow minutes, not the usual 40 s.
        for number in numbers:
            driver.complete(number, "officer-chaoyang-01", "accept", seconds=240)
        for number in numbers:
            driver.complete(number, "reviewer-wangjing-01", "approve", seconds=240)

        def all_concluded() -> bool:
            with driver.rt.db.sessions() as session:
                done = session.scalar(
                    select(func.count())
                    .select_from(Case)
                    .where(Case.number.in_(numbers), Case.status == CaseStatus.CONCLUDED)
                )
            return done == CASES

        try:
            wait_for(all_concluded, "every case to conclude despite the kills", seconds=300)
        except AssertionError as exc:
            raise AssertionError(f"{exc}:\n{driver.where_they_stand(numbers)}") from None

        def all_settled() -> bool:  # the notices' outcomes too (taken by the job, or by the sweep after a kill)
            with driver.rt.db.sessions() as session:
                left = session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.case_number.in_(numbers), OutboxMessage.settled_at.is_(None))
                )
            return left == 0

        wait_for(all_settled, "every message settled", seconds=120)
    finally:
        stop.set()
        killer.join(timeout=30)
        sandbox.clear_faults()
        if worker.process is None or worker.process.poll() is not None:
            worker.start()
    assert len(kills) >= 3, "the worker was hardly killed: the test proves little"

    with driver.rt.db.sessions() as session:
        outcomes = set(session.scalars(select(Case.outcome).where(Case.number.in_(numbers))))
        messages = session.scalars(select(OutboxMessage).where(OutboxMessage.case_number.in_(numbers))).all()
        chain = verify_chain(session)
    assert outcomes == {"approved"}
    # Nothing lost, nothing doubled: six calls per case, each delivered and taken by its step once, and
    # the acceptance notice's SMS (受理通知书, no step waits for it) delivered once per case.
    calls = [m for m in messages if m.process_instance_id is not None]
    notices = [m for m in messages if m.process_instance_id is None]
    assert len(calls) == CALLS * CASES and len(notices) == CASES
    assert all(m.status is MessageStatus.DELIVERED and m.settled_at is not None for m in messages)
    steps = [(m.process_instance_id, m.reply_to["task_id"]) for m in calls]
    assert len(set(steps)) == len(steps)
    # The government systems acted exactly once per message, and once per case.
    journal = {entry["message_id"]: entry for entry in sandbox.journal()}
    assert all(m.message_id in journal for m in messages)
    store = sandbox._request("GET", "/_sandbox/store")
    reported = [c["case_number"] for c in store["cases"] if c["case_number"] in numbers]
    assert sorted(reported) == sorted(numbers)
    published = [r["fields"]["case_number"] for r in store["records"]["elderly_care_subsidy"]]
    assert sorted(n for n in published if n in numbers) == sorted(numbers)
    for template in ("CASE_RECEIVED", "CASE_ACCEPTED", "SUBSIDY_APPROVED"):  # each once per case
        sent = [m["params"]["case_number"] for m in store["sms"] if m["template"] == template]
        assert sorted(n for n in sent if n in numbers) == sorted(numbers), template
    assert chain.ok, chain.reason
