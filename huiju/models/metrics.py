"""Counters kept in the database, so that every web process and worker adds to the same figures.

``/metrics`` reads the rest of its figures from the domain tables themselves (cases, tasks, the
outbox); what leaves no row of its own there — a refused sign-in, the latency histogram folded out
of delivered messages — is counted here. A counter is one row per name and label set.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from huiju.db import Base, UTCDateTime, utcnow


class MetricCounter(Base):
    __tablename__ = "metric_counter"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The label set in Prometheus' own notation, sorted by name: 'channel="api",reason="wrong_password"'.
    labels: Mapped[str] = mapped_column(String(200), primary_key=True, default="")
    value: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
