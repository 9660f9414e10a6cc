"""``/healthz`` for load balancers and ``/metrics`` for Prometheus, and the request's log context.

``/healthz`` answers 200 when every part is healthy and 503 naming the failing parts otherwise
(see :mod:`huiju.services.health`). ``/metrics`` is the Prometheus text exposition format 0.0.4;
its figures come from the database (:mod:`huiju.services.metrics`), so any web process answers
for all of them. With ``HUIJU_METRICS_TOKEN`` set, it wants ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from huiju.runtime import Runtime
from huiju.services import health
from huiju.services.metrics import Figures, fold_delivery_latencies, read_figures
from huiju.web.logcontext import bind_case_number

log = logging.getLogger(__name__)


class FiguresCollector:
    """The figures of one scrape as Prometheus metric families."""

    def __init__(self, figures: Figures) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        f = self.figures
        started = CounterMetricFamily("huiju_cases_started", "Cases submitted (办件), all time.")
        started.add_metric([], f.cases_started)
        yield started
        concluded = CounterMetricFamily(
            "huiju_cases_concluded", "Cases concluded or withdrawn, by outcome.", labels=["outcome"]
        )
        for outcome, n in sorted(f.cases_concluded.items()):
            concluded.add_metric([outcome], n)
        yield concluded
        yield _gauge("huiju_cases", "Cases by status.", "status", f.cases_by_status)
        yield _gauge("huiju_open_tasks", "Ready human tasks (待办), by role.", "role", f.open_tasks)
        yield _gauge("huiju_outbox_depth", "Messages waiting in the outbox to be delivered, by system.", "system",
                     f.outbox_depth)  # fmt: skip
        yield _gauge("huiju_outbox_oldest_age_seconds", "Age of the oldest message waiting in the outbox, by system.",
                     "system", f.outbox_oldest_age)  # fmt: skip
        yield _gauge("huiju_dead_letters", "Messages that failed for good and wait for an integrator, by system.",
                     "system", f.dead_messages)  # fmt: skip
        incidents = GaugeMetricFamily("huiju_incidents", "Process instances in incident (异常).")
        incidents.add_metric([], f.incidents)
        yield incidents
        refusals = CounterMetricFamily(
            "huiju_sign_in_refusals", "Refused sign-ins, by door and reason.", labels=["channel", "reason"]
        )
        for (channel, reason), refused in sorted(f.sign_in_refusals.items()):
            refusals.add_metric([channel, reason], refused)
        yield refusals
        latency = HistogramMetricFamily(
            "huiju_delivery_latency_seconds",
            "From a message's entry in the outbox to its reply, by government system.",
            labels=["system"],
        )
        for system, histogram in sorted(f.delivery_latency.items()):
            latency.add_metric([system], histogram.buckets, histogram.total)
        yield latency
        failures = CounterMetricFamily(
            "huiju_delivery_failures", "Messages that failed for good, by government system.", labels=["system"]
        )
        for system, failed in sorted(f.delivery_failures.items()):
            failures.add_metric([system], failed)
        yield failures


def _gauge(name: str, documentation: str, label: str, values: dict[str, Any]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


def exposition(figures: Figures) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FiguresCollector(figures))  # type: ignore[arg-type]
    return generate_latest(registry)


def register_observability(app: Flask, runtime: Runtime) -> None:
    @app.get("/healthz")
    def healthz() -> tuple[dict[str, Any], int]:
        broker = runtime.celery.conf.broker_url if runtime.celery is not None else None
        parts = health.check_all(runtime.db, runtime.settings, broker)
        failing = [p.name for p in parts if not p.ok]
        if failing:
            log.warning("health check: failing %s", ", ".join(failing))
        body = {
            "status": "unavailable" if failing else "ok",
            "failing": failing,
            "parts": {p.name: {"ok": p.ok, **({"detail": p.detail} if p.detail else {}), **p.figures} for p in parts},
        }
        return body, 503 if failing else 200

    @app.get("/metrics")
    def metrics() -> Response:
        token = runtime.settings.metrics_token
        if token:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return Response("a bearer token is needed\n", 401, {"WWW-Authenticate": "Bearer"})
        try:
            fold_delivery_latencies(runtime.db)
        except Exception:  # a busy database delays the histogram; the other figures still answer
            log.warning("metrics: the delivery latencies could not be folded in this time", exc_info=True)
        with runtime.db.sessions() as session:
            figures = read_figures(session)
        return Response(exposition(figures), 200, {"Content-Type": CONTENT_TYPE_LATEST})

    app.before_request(bind_case_number)
