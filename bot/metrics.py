"""Prometheus metrics (METRICS_PORT): what the service did, and how far behind it is.

Served by prometheus-client's own HTTP server in a thread of its own, on METRICS_HOST
(127.0.0.1 unless set): ``curl 127.0.0.1:9464/metrics``. Each service has its own registry.

Counts are read at scrape time from the counters the parts keep (ingest, dispatcher,
downloader, user account), so nothing on the hot path waits for a metrics lock; the two
histograms are observed where it happens (a reconcile's duration, an alert's time from the
post's date to its sending); the outbox and channel gauges are refreshed from the database
every ``REFRESH`` seconds by the service (``MetricsRefresher``).

- ``chanwatch_posts_stored_total{source}``: posts stored (live, reconcile, backfill, preview)
- ``chanwatch_alerts_queued_total``: alerts queued
- ``chanwatch_messages_sent_total{kind}``: outbox messages sent (alert, notice, digest, edit,
  fold, webhook)
- ``chanwatch_outbox_pending``, ``chanwatch_outbox_oldest_seconds``: the queue, and the age of
  its oldest pending message (0 when empty)
- ``chanwatch_channel_lag_seconds{channel}``: how long a channel has been behind what Telegram
  reported for it (0: caught up)
- ``chanwatch_reconcile_seconds``: histogram of catch-up runs
- ``chanwatch_alert_latency_seconds``: histogram, post (its Telegram date) to alert sent
- ``chanwatch_floodwaits_total{client}``: flood waits Telegram answered, ``bot`` or ``user``
- ``chanwatch_tasks``: the service's asyncio tasks (a leak shows as a climb)
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

REFRESH = 5.0  # seconds between refreshes of the database gauges
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)
RECONCILE_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)


@dataclass
class Readings:
    """What the collector reports: counts kept by the parts, gauges refreshed from the DB."""

    stored: Callable[[], Counter[str]] = Counter
    alerts_queued: Callable[[], int] = lambda: 0
    sent: Callable[[], Counter[str]] = Counter
    floodwaits: Callable[[], dict[str, int]] = dict
    outbox_pending: int = 0
    outbox_oldest_seconds: float = 0.0
    tasks: int = 0  # asyncio tasks of the service (counted on its loop at each refresh)
    lag: dict[str, float] = field(default_factory=dict)


class _Collector:
    def __init__(self, readings: Readings) -> None:
        self._r = readings

    def collect(self) -> Iterator[Metric]:
        r = self._r
        stored = CounterMetricFamily("chanwatch_posts_stored", "Posts stored, by source",
                                     labels=["source"])
        for source, n in sorted(r.stored().items()):
            stored.add_metric([source], n)
        yield stored
        yield CounterMetricFamily("chanwatch_alerts_queued", "Alerts queued",
                                  value=r.alerts_queued())
        sent = CounterMetricFamily("chanwatch_messages_sent", "Outbox messages sent, by kind",
                                   labels=["kind"])
        for kind, n in sorted(r.sent().items()):
            sent.add_metric([kind], n)
        yield sent
        yield GaugeMetricFamily("chanwatch_outbox_pending", "Messages waiting to be sent",
                                value=r.outbox_pending)
        yield GaugeMetricFamily("chanwatch_outbox_oldest_seconds",
                                "Age of the oldest pending message (0: none)",
                                value=r.outbox_oldest_seconds)
        yield GaugeMetricFamily("chanwatch_tasks", "asyncio tasks of the service",
                                value=r.tasks)
        lag = GaugeMetricFamily("chanwatch_channel_lag_seconds",
                                "How long a channel has been behind Telegram (0: caught up)",
                                labels=["channel"])
        for channel, seconds in sorted(r.lag.items()):
            lag.add_metric([channel], seconds)
        yield lag
        flood = CounterMetricFamily("chanwatch_floodwaits", "Flood waits, by client",
                                    labels=["client"])
        for client, n in sorted(r.floodwaits().items()):
            flood.add_metric([client], n)
        yield flood


class Metrics:
    """The service's registry, its two histograms, and the HTTP server when one is asked for."""

    def __init__(self, readings: Readings | None = None) -> None:
        self.readings = readings or Readings()
        self.registry = CollectorRegistry()
        self.registry.register(_Collector(self.readings))
        self.reconcile_seconds = Histogram(
            "chanwatch_reconcile_seconds", "Duration of catch-up runs",
            buckets=RECONCILE_BUCKETS, registry=self.registry)
        self.alert_latency = Histogram(
            "chanwatch_alert_latency_seconds", "From the post's date to its alert sent",
            buckets=LATENCY_BUCKETS, registry=self.registry)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def text(self) -> bytes:
        """The exposition, as a scrape gets it."""
        return generate_latest(self.registry)

    def serve(self, host: str, port: int) -> int:
        """Start the HTTP server; the port it listens on (port 0: a free one)."""
        self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        return int(self._server.server_address[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def sent_alert(self, post_date: dt.datetime, now: dt.datetime) -> None:
        self.alert_latency.observe(max(0.0, (now - post_date).total_seconds()))
