"""/healthz names the failing part; /metrics reads the database, so every process tells the same;
logs carry the case number and the message id, as JSON in production."""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from api_support import GOOD_FORM, Api, Calls, basic, seed
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from test_api_flow import start_case

from adapters.config import AdapterConfig
from exchange.models import MessageStatus, OutboxMessage
from huiju import logs
from huiju.app.bootstrap import build_runtime, import_models
from huiju.app.web import create_app
from huiju.db import Base, Database, utcnow
from huiju.runtime import Runtime
from huiju.services.metrics import FOLD_GRACE, fold_delivery_latencies, read_figures
from huiju.settings import load_settings
from tests.support.servers import PostgresServer, free_port


def scrape(app: Flask, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reply = app.test_client().get("/metrics", headers=headers)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    assert reply.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(reply.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


@pytest.fixture
def listening() -> Iterator[int]:
    """A port something answers on (a stand-in for a government system's endpoint)."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
                connection.close()
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield port
    stop.set()
    thread.join(5)
    server.close()


def _endpoints(runtime: Runtime, **ports: int) -> None:
    with runtime.db.transaction() as session:
        for system, port in ports.items():
            session.add(AdapterConfig(system=system, endpoint=f"https://127.0.0.1:{port}/{system}",
                                      wsdl_file=f"{system}.wsdl"))  # fmt: skip


def test_healthz_is_200_when_every_part_answers(app: Flask, runtime: Runtime, listening: int) -> None:
    _endpoints(runtime, citizen_info=listening, sms=listening)
    reply = app.test_client().get("/healthz")
    assert reply.status_code == 200, reply.get_json()
    body = reply.get_json()
    assert body["status"] == "ok" and body["failing"] == []
    assert set(body["parts"]) == {"database", "broker", "system:citizen_info", "system:sms", "outbox"}
    assert body["parts"]["outbox"] == {"ok": True, "depth": 0, "oldest_age_seconds": 0.0}


def test_healthz_is_503_and_names_an_unreachable_system(app: Flask, runtime: Runtime, listening: int) -> None:
    _endpoints(runtime, citizen_info=listening, egov_approval=free_port())
    reply = app.test_client().get("/healthz")
    assert reply.status_code == 503
    body = reply.get_json()
    assert body["status"] == "unavailable" and body["failing"] == ["system:egov_approval"]
    assert "refused" in body["parts"]["system:egov_approval"]["detail"].lower()
    assert body["parts"]["system:citizen_info"]["ok"] is True


def test_healthz_is_503_when_the_outbox_backs_up(app: Flask, runtime: Runtime, api: Api, deliver: Calls) -> None:
    body = {"item": "ELDERLY_CARE_SUBSIDY", "applicant": "110105193801012340", "data": GOOD_FORM}
    api.post("/api/v1/cases", user="zhang", json=body, expect=201)  # its receipt SMS waits in the outbox
    with runtime.db.transaction() as session:
        session.execute(update(OutboxMessage).values(created_at=utcnow() - timedelta(hours=1)))
    reply = app.test_client().get("/healthz")
    assert reply.status_code == 503
    assert reply.get_json()["failing"] == ["outbox"]
    outbox = reply.get_json()["parts"]["outbox"]
    assert outbox["depth"] >= 1 and outbox["oldest_age_seconds"] >= 3600
    assert "has waited" in outbox["detail"]
    deliver()
    assert app.test_client().get("/healthz").status_code == 200


def test_healthz_is_503_when_the_broker_does_not_answer(tmp_path: Path) -> None:
    settings = load_settings(instance_path=tmp_path, env="test", broker_url=f"redis://127.0.0.1:{free_port()}/0",
                             health_timeout=0.5)  # fmt: skip
    rt = build_runtime(settings)
    try:
        rt.db.create_all()
        reply = create_app(rt, {"TESTING": True}).test_client().get("/healthz")
        assert reply.status_code == 503
        assert reply.get_json()["failing"] == ["broker"]
        assert "refused" in reply.get_json()["parts"]["broker"]["detail"].lower()
    finally:
        rt.db.dispose()


def test_healthz_is_503_when_the_database_does_not_answer(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "huiju.db"
    rt = build_runtime(load_settings(instance_path=tmp_path, env="test", database_url=f"sqlite:///{missing}"),
                       with_celery=False)  # fmt: skip
    try:
        reply = create_app(rt, {"TESTING": True}).test_client().get("/healthz")
        assert reply.status_code == 503
        assert reply.get_json()["failing"] == ["database", "outbox"]
    finally:
        rt.db.dispose()


def test_metrics_count_cases_tasks_outbox_and_refusals(app: Flask, api: Api, deliver: Calls) -> None:
    before = scrape(app)
    assert before[("huiju_cases_started_total", ())] == 0
    number = start_case(api, deliver)
    body = {"item": "ELDERLY_CARE_SUBSIDY", "applicant": "110105193801012340", "data": GOOD_FORM}
    api.post("/api/v1/cases", user="zhang", json=body, expect=201)  # a second case, its SMS still waiting
    api.get("/api/v1/tasks", headers=basic("officer_wang", "wrong"), expect=401)
    api.get("/api/v1/tasks", user="nobody", expect=401)
    after = scrape(app)
    assert after[("huiju_cases_started_total", ())] == 2
    assert after[("huiju_cases", (("status", "intake"),))] == 1
    assert after[("huiju_cases", (("status", "submitted"),))] == 1
    assert after[("huiju_open_tasks", (("role", "community_officer"),))] == 1
    assert after[("huiju_outbox_depth", (("system", "sms"),))] == 1
    assert after[("huiju_outbox_oldest_age_seconds", (("system", "sms"),))] >= 0
    assert after[("huiju_sign_in_refusals_total", (("channel", "api"), ("reason", "wrong_password")))] == 2
    assert after[("huiju_incidents", ())] == 0
    assert number


def test_metrics_agree_across_processes_sharing_the_database(runtime: Runtime, tmp_path: Path) -> None:
    """Two web processes (two runtimes on one database): what one counts, the other reports."""
    first = create_app(runtime, {"TESTING": True})
    other_runtime = build_runtime(runtime.settings, with_celery=False)
    try:
        second = create_app(other_runtime, {"TESTING": True})
        assert first.test_client().get("/api/v1/items", headers=basic("zhang", "wrong")).status_code == 401
        assert second.test_client().get("/api/v1/items", headers=basic("zhang", "bad")).status_code == 401
        key = ("huiju_sign_in_refusals_total", (("channel", "api"), ("reason", "wrong_password")))
        assert scrape(first)[key] == scrape(second)[key] == 2
    finally:
        other_runtime.db.dispose()


def _delivered(runtime: Runtime, latencies: list[float], *, settled_ago: timedelta, system: str = "sms") -> None:
    now = utcnow()
    with runtime.db.transaction() as session:
        for n, seconds in enumerate(latencies):
            created = now - settled_ago - timedelta(seconds=seconds)
            session.add(OutboxMessage(
                message_id=f"lat-{system}-{n}-{seconds}-{settled_ago.total_seconds()}", operation="sms.send_sms",
                system=system, params={}, status=MessageStatus.DELIVERED, created_at=created,
                delivered_at=created + timedelta(seconds=seconds), settled_at=now - settled_ago,
            ))  # fmt: skip


def test_the_delivery_latency_histogram_counts_each_message_once(app: Flask, runtime: Runtime) -> None:
    _delivered(runtime, [0.05, 0.2, 0.2, 3.0, 120.0], settled_ago=FOLD_GRACE + timedelta(seconds=5))
    _delivered(runtime, [0.05], settled_ago=timedelta(seconds=1))  # too fresh: folded by a later scrape
    first = scrape(app)
    again = scrape(app)
    assert first == again, "a second scrape counts nothing twice"
    bucket = {le: first[("huiju_delivery_latency_seconds_bucket", (("le", le), ("system", "sms")))]
              for le in ("0.1", "0.25", "5.0", "300.0", "+Inf")}  # fmt: skip
    assert bucket == {"0.1": 1, "0.25": 3, "5.0": 4, "300.0": 5, "+Inf": 5}
    assert first[("huiju_delivery_latency_seconds_count", (("system", "sms"),))] == 5
    assert first[("huiju_delivery_latency_seconds_sum", (("system", "sms"),))] == pytest.approx(123.45, abs=0.01)
    later = utcnow() + FOLD_GRACE + timedelta(seconds=2)
    assert fold_delivery_latencies(runtime.db, later) == 1
    assert fold_delivery_latencies(runtime.db, later) == 0


def test_two_processes_folding_at_once_count_each_message_once(runtime: Runtime) -> None:
    _delivered(runtime, [0.3] * 40, settled_ago=FOLD_GRACE + timedelta(seconds=5))
    other = build_runtime(runtime.settings, with_celery=False)
    folded: list[int] = []
    try:
        threads = [threading.Thread(target=lambda db=db: folded.append(fold_delivery_latencies(db)))
                   for db in (runtime.db, other.db, runtime.db)]  # fmt: skip
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        other.db.dispose()
    assert sorted(folded) == [0, 0, 40]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


def test_the_fold_counts_each_message_once_on_postgresql_too(postgres: PostgresServer) -> None:
    """Row locks on the watermark (SELECT ... FOR UPDATE) keep concurrent folds apart."""
    import_models()
    db, other = Database(postgres.url), Database(postgres.url)
    try:
        Base.metadata.create_all(db.engine)
        now = utcnow()
        with db.transaction() as session:
            for n in range(30):
                created = now - FOLD_GRACE - timedelta(seconds=10 + n)
                session.add(OutboxMessage(
                    message_id=f"pg-{n}", operation="egov.submit_case", system="egov_approval", params={},
                    status=MessageStatus.DELIVERED, created_at=created, delivered_at=created + timedelta(seconds=2),
                    settled_at=now - FOLD_GRACE - timedelta(seconds=5),
                ))  # fmt: skip
        folded: list[int] = []
        threads = [threading.Thread(target=lambda d=d: folded.append(fold_delivery_latencies(d)))
                   for d in (db, other, db, other)]  # fmt: skip
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(folded) == [0, 0, 0, 30]
        with db.sessions() as session:
            figures = read_figures(session)
        histogram = figures.delivery_latency["egov_approval"]
        assert (histogram.count, histogram.total) == (30, pytest.approx(60.0))
        assert dict(histogram.buckets)["2.5"] == 30 and dict(histogram.buckets)["1.0"] == 0
    finally:
        Base.metadata.drop_all(db.engine)
        db.dispose()
        other.dispose()


def test_metrics_want_the_token_when_one_is_set(tmp_path: Path) -> None:
    rt = build_runtime(load_settings(instance_path=tmp_path, env="test", metrics_token="s3cret"), with_celery=False)
    try:
        rt.db.create_all()
        seed(rt)
        app = create_app(rt, {"TESTING": True})
        assert app.test_client().get("/metrics").status_code == 401
        assert app.test_client().get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert scrape(app, Authorization="Bearer s3cret")[("huiju_incidents", ())] == 0
    finally:
        rt.db.dispose()


def _capture(settings_env: str, fmt: str | None = None) -> tuple[logging.Handler, io.StringIO]:
    stream = io.StringIO()
    settings = load_settings(env=settings_env, secret_key="a-production-secret-of-at-least-32-bytes", log_format=fmt)  # type: ignore[arg-type]
    return logs.configure(settings, stream), stream


def test_production_logs_are_json_with_case_number_and_message_id() -> None:
    handler, stream = _capture("production")
    try:
        with logs.bound(case_number="HJ2026120600001", message_id="m-1"):
            logging.getLogger("huiju.test").warning("sent %s", "SubmitCase")
        logging.getLogger("huiju.test").warning("outside")
    finally:
        logging.getLogger().removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "sent SubmitCase" and first["level"] == "WARNING"
    assert (first["case_number"], first["message_id"]) == ("HJ2026120600001", "m-1")
    assert first["logger"] == "huiju.test" and first["time"].endswith("+00:00")
    assert "case_number" not in second and "message_id" not in second


def test_development_logs_are_readable_lines() -> None:
    handler, stream = _capture("development")
    try:
        with logs.bound(case_number="HJ2026120600002"):
            logging.getLogger("huiju.test").warning("waiting")
    finally:
        logging.getLogger().removeHandler(handler)
    line = stream.getvalue().strip()
    assert line.endswith("WARNING huiju.test [HJ2026120600002] waiting")
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_a_request_about_a_case_logs_its_number(app: Flask) -> None:
    with app.test_request_context("/api/v1/cases/HJ2026120600003"):
        app.preprocess_request()
        assert logs.current() == {"case_number": "HJ2026120600003", "message_id": None}
    with app.test_request_context("/api/v1/items"):
        app.preprocess_request()
        assert logs.current() == {"case_number": None, "message_id": None}
