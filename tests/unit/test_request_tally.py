"""The request tally reads out as prometheus_client's own metric objects would."""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from pypicloud.metrics import LATENCY_BUCKETS
from pypicloud.request_tally import RequestTally
from tests.functional.views.test_metrics import samples as readout

#: (route, method, status, seconds, bytes): edges of buckets included.
OBSERVED = [
    ("simple_root", "GET", 200, 0.0001, 26_000),
    ("simple_root", "GET", 200, 0.005, 26_000),
    ("simple_root", "GET", 304, 0.0051, 0),
    ("api_file", "GET", 200, 0.3, 5_000_000),
    ("api_file", "HEAD", 200, 31.0, 0),
    ("simple_index", "POST", 400, 1.0, 120),
]


def prometheus_reference() -> str:
    registry = CollectorRegistry()
    requests = Counter(
        "pypicloud_http_requests", "r", ["route", "method", "status"], registry=registry
    )
    latency = Histogram(
        "pypicloud_http_request_duration_seconds",
        "l",
        ["route"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    sent = Counter("pypicloud_http_response_bytes", "b", ["route"], registry=registry)
    for route, method, status, seconds, length in OBSERVED:
        requests.labels(route, method, str(status)).inc()
        latency.labels(route).observe(seconds)
        sent.labels(route).inc(length)
    return generate_latest(registry).decode()


def tallied() -> str:
    registry = CollectorRegistry()
    tally = RequestTally(LATENCY_BUCKETS)
    registry.register(tally)
    for route, method, status, seconds, length in OBSERVED:
        tally.record(route, method, status, seconds, length)
    return generate_latest(registry).decode()


def without_created(found):
    return {key: value for key, value in found.items() if not key[0].endswith("_created")}


def test_the_same_samples_as_prometheus_client():
    ours, reference = readout(tallied()), readout(prometheus_reference())
    assert without_created(ours) == without_created(reference)
    assert {k for k in ours if k[0].endswith("_created")} == {
        k for k in reference if k[0].endswith("_created")
    }


def test_bytes_counted_after_the_answer():
    tally = RequestTally(LATENCY_BUCKETS)
    tally.record("api_file", "GET", 200, 0.01).inc(10)
    tally.record("api_file", "GET", 206, 0.01, 5).inc(2)
    registry = CollectorRegistry()
    registry.register(tally)
    found = readout(generate_latest(registry).decode())
    assert found[("pypicloud_http_response_bytes_total", (("route", "api_file"),))] == 17


def test_no_count_is_lost_under_threads():
    tally = RequestTally(LATENCY_BUCKETS)

    def hammer():
        for _ in range(5_000):
            tally.record("simple_root", "GET", 200, 0.001, 1).inc(1)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    registry = CollectorRegistry()
    registry.register(tally)
    found = readout(generate_latest(registry).decode())
    route = (("method", "GET"), ("route", "simple_root"), ("status", "200"))
    assert found[("pypicloud_http_requests_total", route)] == 20_000
    assert found[("pypicloud_http_response_bytes_total", (("route", "simple_root"),))] == 40_000
