"""The service's Prometheus metrics: built at start-up (create_app, the worker) and handed to
what records them, and served by GET /metrics. docs/operations.md describes each one.

The counters and histograms live in a registry of the process's own (never prometheus_client's
global one). Under `serve --workers N`, serve points PROMETHEUS_MULTIPROC_DIR at a fresh
directory before the workers start: each process then writes its values there, and a scrape,
whichever process answers it, reads them all (MultiProcessCollector). What is read at scrape
time (the job queue, the connection pools) is read by the process that answers it.
prometheus_client decides when it is imported whether values go to that directory, so the
variable must be set before a process starts (serve's workers are spawned after it is).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from switchboard.errors import ConfigurationError
from switchboard.outbound.repository import waiting_jobs

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# An inbound text is answered in milliseconds; a tool call, a send or a slow page in tenths.
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_GROUP_SIZES = (1, 2, 4, 8, 16, 32, 64)


class Metrics:
    """The process's metrics. `multiprocess_dir`: where every process of `serve --workers N`
    writes its values (None: this process's registry is the whole story)."""

    def __init__(self, *, multiprocess_dir: str | None = None) -> None:
        if multiprocess_dir is not None and not getattr(values.ValueClass, "_multiprocess", False):
            # Each process would count in memory, and a scrape would show none of it.
            raise ConfigurationError(
                f"{MULTIPROCESS_DIR} was set after prometheus_client was imported",
                hint=f"set {MULTIPROCESS_DIR} before the process starts, or leave it unset",
            )
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.requests = Counter(
            "switchboard_http_requests",
            "HTTP requests answered, by route template, method and status",
            ("route", "method", "status"),
            registry=registry,
        )
        self.request_seconds = Histogram(
            "switchboard_http_request_duration_seconds",
            "Time from entering the request layer to the end of the answer",
            ("route", "method"),
            buckets=_SECONDS,
            registry=registry,
        )
        self.webhooks = Counter(
            "switchboard_webhooks",
            "Provider webhook deliveries by provider, outcome (accepted, duplicate, refused, "
            "failed) and reason (the error code of a refused or failed one)",
            ("provider", "outcome", "reason"),
            registry=registry,
        )
        self.tool_calls = Counter(
            "switchboard_tool_calls",
            "Assistant tool calls by tool and outcome (ok, or the error code answered)",
            ("tool", "outcome"),
            registry=registry,
        )
        self.tool_seconds = Histogram(
            "switchboard_tool_call_duration_seconds",
            "Time to answer one tool call, its transaction included",
            ("tool",),
            buckets=_SECONDS,
            registry=registry,
        )
        self.sends = Counter(
            "switchboard_outbound_sends",
            "Outbound send attempts by provider, channel and outcome (sent, retrying, "
            "rejected, gave_up, not_sent)",
            ("provider", "channel", "outcome"),
            registry=registry,
        )
        self.group_sizes = Histogram(
            "switchboard_inbound_group_size",
            "Inbound texts written together in one transaction by the group writer",
            buckets=_GROUP_SIZES,
            registry=registry,
        )

    @classmethod
    def for_process(cls) -> Metrics:
        """Multi-process when serve set PROMETHEUS_MULTIPROC_DIR for its workers."""
        return cls(multiprocess_dir=os.environ.get(MULTIPROCESS_DIR) or None)

    def webhook(self, provider: str, outcome: str, reason: str = "") -> None:
        self.webhooks.labels(provider, outcome, reason).inc()

    def exposition(self, read_at_scrape: Iterable[Metric] = ()) -> bytes:
        """The text format of every metric, with those read at scrape time."""
        if self.multiprocess_dir is None:
            counted = generate_latest(self.registry)
        else:
            gathered = CollectorRegistry()
            MultiProcessCollector(gathered, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
            counted = generate_latest(gathered)
        now = CollectorRegistry()
        now.register(_Fixed(list(read_at_scrape)))
        return counted + generate_latest(now)


@dataclass(frozen=True, eq=False)  # a registry keeps its collectors by identity
class _Fixed(Collector):
    metrics: list[Metric]

    def collect(self) -> Iterator[Metric]:
        yield from self.metrics


def pool_gauges(pools: Mapping[str, AsyncConnectionPool[Any]]) -> Metric:
    """Connections of each pool in use, idle, and requests waiting for one."""
    family = GaugeMetricFamily(
        "switchboard_db_pool_connections",
        "Connections of each database pool by state (in_use, idle), and requests waiting "
        "for one (waiting)",
        labels=("pool", "state"),
    )
    for name, pool in pools.items():
        stats = pool.get_stats()
        size = stats.get("pool_size", 0)
        idle = stats.get("pool_available", 0)
        family.add_metric((name, "in_use"), size - idle)
        family.add_metric((name, "idle"), idle)
        family.add_metric((name, "waiting"), stats.get("requests_waiting", 0))
    return family


async def queue_gauges(conn: AsyncConnection[Any], *, shown: Iterable[str]) -> list[Metric]:
    """Jobs waiting in each queue, and how long the oldest has been due. The `shown` queues
    are shown at 0 when empty, so that an alert on them always has a series."""
    depth = GaugeMetricFamily(
        "switchboard_job_queue_depth",
        "Jobs waiting to run (status todo), by queue",
        labels=("queue",),
    )
    oldest = GaugeMetricFamily(
        "switchboard_job_queue_oldest_age_seconds",
        "How long the oldest waiting job has been due, by queue (0 when none waits)",
        labels=("queue",),
    )
    rows = {queue: (count, age) for queue, count, age in await waiting_jobs(conn)}
    for queue in shown:
        rows.setdefault(queue, (0, 0.0))
    for queue, (count, age) in sorted(rows.items()):
        depth.add_metric((queue,), count)
        oldest.add_metric((queue,), age)
    return [depth, oldest]
