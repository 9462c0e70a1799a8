"""Prometheus metrics: what ``/metrics`` shows, and who may read it.

Each app has its own metric objects in its own registry (a test's app counts only its own
requests). Under several processes (waitress behind a process manager, several pods on one
volume), prometheus_client's multiprocess mode sums every process's values: each process
writes its own file in ``PROMETHEUS_MULTIPROC_DIR`` (or ``metrics.multiproc_dir``) and
``/metrics`` reads them all, whichever process answers. That mode is process-wide in
prometheus_client, so the setting switches it on for the process, before any metric exists.

``pypi.metrics`` says who may read ``/metrics``: ``off`` (404, and nothing is counted),
``admin`` (the default: an admin's Basic auth, session or unrestricted token; request
counts and route names are not for everyone, and no extra secret is needed to start),
``token`` (``Authorization: Bearer <pypi.metrics_token>``, what a Prometheus scraper sends,
or an admin) and ``everyone``.
"""

from __future__ import annotations

import dataclasses
import hmac
import os
from typing import Any, Literal

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector

from pypicloud.request_tally import RequestTally
from pypicloud.settings import ConfigError, Settings

Mode = Literal["off", "admin", "token", "everyone"]
MODES: tuple[Mode, ...] = ("off", "admin", "token", "everyone")
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
MIN_TOKEN_LENGTH = 16
# The classic text format (what generate_latest writes), which every Prometheus parses.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclasses.dataclass(frozen=True)
class MetricsOptions:
    mode: Mode = "admin"
    token: str | None = dataclasses.field(default=None, repr=False)  # never shown
    multiproc_dir: str | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, environ: dict[str, str] | None = None
    ) -> MetricsOptions:
        environ = dict(os.environ) if environ is None else environ
        mode: Mode = settings.choice("pypi.metrics", MODES, "admin")  # type: ignore[assignment]
        token = settings.str("pypi.metrics_token")
        if mode == "token" and token is None:
            raise ConfigError("pypi.metrics_token", "is required when pypi.metrics = token")
        if token is not None and len(token) < MIN_TOKEN_LENGTH:
            raise ConfigError("pypi.metrics_token", f"needs {MIN_TOKEN_LENGTH} characters")
        directory = settings.str("metrics.multiproc_dir") or environ.get(MULTIPROC_ENV) or None
        if directory is not None and mode != "off" and not os.path.isdir(directory):
            raise ConfigError("metrics.multiproc_dir", f"{directory!r} is not a directory")
        return cls(mode=mode, token=token, multiproc_dir=directory if mode != "off" else None)

    def token_matches(self, authorization: str) -> bool:
        """Constant-time check of an ``Authorization: Bearer ...`` header."""
        scheme, _, presented = authorization.partition(" ")
        if self.token is None or scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(presented.strip().encode(), self.token.encode())


def use_multiprocess(directory: str) -> None:
    """Switch prometheus_client to per-process files in ``directory`` (process-wide)."""
    current = os.environ.get(MULTIPROC_ENV)
    if current is not None and os.path.realpath(current) != os.path.realpath(directory):
        raise ConfigError(
            "metrics.multiproc_dir", f"differs from {MULTIPROC_ENV}={current!r} of this process"
        )
    os.environ[MULTIPROC_ENV] = directory
    if not getattr(values.ValueClass, "_multiprocess", False):
        values.ValueClass = values.MultiProcessValue()


class Metrics:
    """The application's metrics. ``enabled`` False (``pypi.metrics = off``) counts nothing.

    Other components count through the methods (``upstream_request`` is for the fallback to
    another index), so none imports prometheus_client itself."""

    def __init__(self, options: MetricsOptions | None = None) -> None:
        self.options = options or MetricsOptions()
        self.enabled = self.options.mode != "off"
        multiproc = self.options.multiproc_dir
        if self.enabled and multiproc:
            use_multiprocess(multiproc)
            self.registry = CollectorRegistry()
            MultiProcessCollector(self.registry, path=multiproc)
            own: CollectorRegistry | None = None  # values live in the files
        else:
            self.registry = own = CollectorRegistry()
        #: Requests, their latency and bytes: plain numbers in one process (a custom
        #: collector shows them), prometheus_client's objects under multiprocess mode.
        self.tally: RequestTally | None = None
        if own is not None:
            self.tally = RequestTally(LATENCY_BUCKETS)
            own.register(self.tally)
        else:
            self.requests = Counter(
                "pypicloud_http_requests",
                "HTTP requests answered, by route, method and status",
                ["route", "method", "status"],
                registry=own,
            )
            self.latency = Histogram(
                "pypicloud_http_request_duration_seconds",
                "Time to produce a response (streamed bodies not included), by route",
                ["route"],
                buckets=LATENCY_BUCKETS,
                registry=own,
            )
            self.bytes = Counter(
                "pypicloud_http_response_bytes",
                "Response body bytes sent, by route",
                ["route"],
                registry=own,
            )
        self.uploads = Counter(
            "pypicloud_uploads",
            "Distribution uploads: created (new or overwritten) or unchanged (same file again)",
            ["outcome"],
            registry=own,
        )
        self.downloads = Counter(
            "pypicloud_downloads",
            "File downloads handled here: streamed, or redirected to storage",
            ["delivery"],
            registry=own,
        )
        self.page_cache = Counter(
            "pypicloud_page_cache",
            "Rendered index pages served from memory (hit) or rendered (miss)",
            ["result"],
            registry=own,
        )
        self.rebuilds = Counter(
            "pypicloud_rebuilds",
            "Rebuilds of the package database from storage, by outcome",
            ["outcome"],
            registry=own,
        )
        self.upstream = Counter(
            "pypicloud_upstream_requests",
            "Requests to the upstream index, by fallback mode and outcome",
            ["mode", "outcome"],
            registry=own,
        )

        # Every request counts under a handful of label sets: the children are looked up
        # once (``labels()`` validates and locks on every call; this is one dict lookup).
        self._per_request: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}
        self._downloads: dict[str, Any] = {}  # delivery: child (a handful of values)
        self._page_hit = self.page_cache.labels("hit")
        self._page_miss = self.page_cache.labels("miss")

    # -- counting ----------------------------------------------------------------------

    def _children(self, route: str, method: str, status: int) -> tuple[Any, Any, Any]:
        key = (route, method, status)
        found = self._per_request.get(key)
        if found is None:
            found = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route),
                self.bytes.labels(route),
            )
            if len(self._per_request) < 10_000:  # label values are bounded; be sure
                self._per_request[key] = found
        return found

    def request(self, route: str, method: str, status: int, seconds: float, sent: int = 0) -> Any:
        """Count one answered request and the ``sent`` bytes known already; what it
        returns (``.inc(n)``) counts the body's bytes sent later."""
        if not self.enabled:
            return None
        if self.tally is not None:
            return self.tally.record(route, method, status, seconds, sent)
        requests, latency, counter = self._children(route, method, status)
        requests.inc()
        latency.observe(seconds)
        if sent:
            counter.inc(sent)
        return counter

    def upload(self, created: bool) -> None:
        if self.enabled:
            self.uploads.labels("created" if created else "unchanged").inc()

    def download(self, delivery: str) -> None:
        if self.enabled:
            child = self._downloads.get(delivery)
            if child is None:
                child = self._downloads[delivery] = self.downloads.labels(delivery)
            child.inc()

    def page(self, hit: bool) -> None:
        if self.enabled:
            (self._page_hit if hit else self._page_miss).inc()

    def rebuild(self, ok: bool) -> None:
        if self.enabled:
            self.rebuilds.labels("ok" if ok else "error").inc()

    def upstream_request(self, mode: str, outcome: str) -> None:
        """For the upstream (fallback) client: mode is the fallback mode (``redirect``,
        ``cache``...), outcome e.g. ``ok``, ``not_found``, ``error``."""
        if self.enabled:
            self.upstream.labels(mode, outcome).inc()

    # -- exposition --------------------------------------------------------------------

    def render(self) -> bytes:
        return generate_latest(self.registry)
