"""Prometheus ``/metrics``: request latency per route, and the state of the work a revenue-cycle team watches
(open and overdue work per queue, outbox backlog, lag and failures, claim payments posted), read from the
database at scrape time so every worker process reports the same figures.

The latency histogram is per process: run one worker per scrape target, or aggregate in Prometheus.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class WorkloadCollector(Collector):
    """Gauges computed from the database when scraped."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from rcmflow.adapters.store.schema import claim_payments, utc_now
        from rcmflow.services.outbox import outbox_status
        from rcmflow.services.work_items import queue_summary

        now = utc_now()
        open_items = GaugeMetricFamily("rcmflow_work_items_open", "Active work items", labels=["queue"])
        overdue = GaugeMetricFamily("rcmflow_work_items_overdue", "Active work items past their SLA due time",
                                    labels=["queue"])
        messages = GaugeMetricFamily("rcmflow_outbox_messages", "Outbox messages by status",
                                     labels=["destination", "status"])
        lag = GaugeMetricFamily("rcmflow_outbox_lag_seconds", "Age of the oldest undelivered message",
                                labels=["destination"])
        posted = GaugeMetricFamily("rcmflow_claim_payments_posted", "Claim payments posted to the ledger")
        with self.engine.connect() as conn:
            for queue in queue_summary(conn, now):
                open_items.add_metric([queue.queue], queue.open)
                overdue.add_metric([queue.queue], queue.overdue)
            for destination in outbox_status(conn, now=now):
                for status, count in destination.counts.items():
                    messages.add_metric([destination.destination, status], count)
                lag.add_metric([destination.destination], destination.lag.total_seconds() if destination.lag else 0)
            posted.add_metric([], conn.execute(select(func.count()).select_from(claim_payments).where(
                claim_payments.c.state == "posted")).scalar_one())
        yield from (open_items, overdue, messages, lag, posted)


class LatencyMiddleware:
    """Times every request (pure ASGI: no per-request task or body copy, unlike ``@app.middleware``)."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # The route template (/v1/claims/{claim_id}), never the path: ids would explode the label set.
            template = getattr(scope.get("route"), "path", "unmatched")
            self.histogram.labels(scope["method"], template, str(status)).observe(time.perf_counter() - started)


def install_metrics(app: FastAPI, engine: Engine) -> None:
    registry = CollectorRegistry()
    latency = Histogram("rcmflow_http_request_duration_seconds", "Request latency by route", ["method", "route",
                                                                                              "status"],
                        buckets=LATENCY_BUCKETS, registry=registry)
    registry.register(WorkloadCollector(engine))

    app.add_middleware(LatencyMiddleware, histogram=latency)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
