"""Per-request counts, latencies and bytes, kept as plain numbers and shown as Prometheus's.

Counting one answered request through prometheus_client costs a request counter, a
histogram (its sum and bucket) and a byte counter, each a locked update: 2-3 us, as much as
finding and replaying a cached index page. Here a request is one dictionary lookup and one
locked update of plain numbers, and ``/metrics`` reads them as the same three families
(same names, labels, buckets and ``_created`` samples) through a custom collector.

Only for a single process: under prometheus_client's multiprocess mode the values must live
in its per-process files, and ``Metrics`` counts through its metric objects instead.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

#: Label sets are bounded by the routes, methods and statuses; this is a backstop.
MAX_LABEL_SETS = 10_000


def created_series_wanted() -> bool:
    """prometheus_client's own switch for the ``_created`` samples, read the same way."""
    flag = os.environ.get("PROMETHEUS_DISABLE_CREATED_SERIES", "False")
    return flag.lower() not in ("true", "1", "t")


class Tally:
    """One (route, method, status): requests, latency by bucket, and bytes sent."""

    __slots__ = ("buckets", "count", "created", "lock", "sent", "total")

    def __init__(self, lock: threading.Lock, bucket_count: int) -> None:
        self.lock = lock
        self.created = time.time()
        self.count = 0
        self.total = 0.0
        self.buckets = [0] * (bucket_count + 1)  # the last one is +Inf's own
        self.sent = 0

    def inc(self, count: int) -> None:
        """Bytes sent, counted after the answer (the tween's body counter calls this)."""
        with self.lock:
            self.sent += count


class RequestTally:
    """The collector: ``record`` counts, ``collect`` is what the registry asks for."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self._lock = threading.Lock()
        self._tallies: dict[tuple[str, str, int], Tally] = {}

    def record(self, route: str, method: str, status: int, seconds: float, sent: int = 0) -> Tally:
        key = (route, method, status)
        tally = self._tallies.get(key)
        if tally is None:
            tally = self._new(key)
        bucket = bisect.bisect_left(self.bounds, seconds)  # "le": the first bound >= it
        with self._lock:
            tally.count += 1
            tally.total += seconds
            tally.buckets[bucket] += 1
            tally.sent += sent
        return tally

    def _new(self, key: tuple[str, str, int]) -> Tally:
        with self._lock:
            tally = self._tallies.get(key)
            if tally is None:
                tally = Tally(self._lock, len(self.bounds))
                if len(self._tallies) < MAX_LABEL_SETS:
                    self._tallies[key] = tally
            return tally

    def collect(self) -> Iterator[Metric]:
        created_too = created_series_wanted()
        with self._lock:
            rows = [
                (key, tally.created, tally.count, tally.total, list(tally.buckets), tally.sent)
                for key, tally in self._tallies.items()
            ]
        requests = CounterMetricFamily(
            "pypicloud_http_requests",
            "HTTP requests answered, by route, method and status",
            labels=["route", "method", "status"],
        )
        latency = HistogramMetricFamily(
            "pypicloud_http_request_duration_seconds",
            "Time to produce a response (streamed bodies not included), by route",
            labels=["route"],
        )
        sent = CounterMetricFamily(
            "pypicloud_http_response_bytes", "Response body bytes sent, by route", labels=["route"]
        )
        by_route: dict[str, list] = {}  # route: [created, sum, buckets, bytes]
        for (route, method, status), created, count, total, buckets, length in rows:
            requests.add_metric(
                [route, method, str(status)], count, created=created if created_too else None
            )
            found = by_route.get(route)
            if found is None:
                by_route[route] = [created, total, buckets, length]
                continue
            found[0] = min(found[0], created)
            found[1] += total
            found[2] = [a + b for a, b in zip(found[2], buckets, strict=True)]
            found[3] += length
        for route, (created, total, buckets, length) in by_route.items():
            cumulative, running = [], 0
            for bound, count in zip((*self.bounds, float("inf")), buckets, strict=True):
                running += count
                cumulative.append((floatToGoString(bound), running))
            latency.add_metric([route], cumulative, total)
            if created_too:
                latency.samples.append(Sample(f"{latency.name}_created", {"route": route}, created))
            sent.add_metric([route], length, created=created if created_too else None)
        yield requests
        yield latency
        yield sent
