"""The observe tween: counts every request for /metrics and names the actor for the audit log.

It sits over every other tween (``under=INGRESS``, so above the exception view too), so a
request answered before routing (a fast path in a tween of its own) is counted as well.

The contract for the route label of a request:

1. ``request.matched_route.name`` when Pyramid's router matched a route;
2. else ``request.environ["pypicloud.route"]``: a tween that answers a request without
   routing (a cached page, a file) sets this key to the route name it stands for
   (``simple_project``, ``api_file``...), so its answers count under the same label;
3. else ``"unmatched"`` (a 404 for an unknown URL), so label values stay a bounded set.

Another tween that must be counted declares ``under=pypicloud.tweens.OBSERVE`` (or
``over=pyramid.tweens.EXCVIEW``). Latency is the time to produce the response object;
response bytes are counted as the WSGI server takes them (a Range answer counts the bytes
of the range, a 304 or HEAD none).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response
from webob.response import AppIterRange

from pypicloud.audit import Actor, acting
from pypicloud.metrics import Metrics

OBSERVE = "pypicloud.tweens.observe_tween_factory"
ROUTE_KEY = "pypicloud.route"
UNMATCHED = "unmatched"

Handler = Callable[[Request], Response]


def route_label(request: Request) -> str:
    matched = getattr(request, "matched_route", None)
    if matched is not None:
        return str(matched.name)
    return str(request.environ.get(ROUTE_KEY) or UNMATCHED)


def request_actor(request: Request) -> Actor:
    """Who a request acts as: the identity's user (and token id), and REMOTE_ADDR, the
    address waitress gives (the client's, from the trusted proxy's headers, when waitress
    is told to trust nginx; never a header a client could forge)."""
    identity = request.identity
    address = request.remote_addr
    if identity is None:
        return Actor(name="anonymous", address=address)
    token = identity.token.token_id if identity.token is not None else None
    return Actor(name=identity.username, token_id=token, address=address)


def observe_tween_factory(handler: Handler, registry: Registry) -> Handler:
    metrics: Metrics = registry.services.metrics  # type: ignore[attr-defined]

    def observe(request: Request) -> Response:
        with acting(lambda: request_actor(request)):
            if not metrics.enabled:
                return handler(request)
            started = time.perf_counter()
            try:
                response = handler(request)
            except Exception:
                metrics.request(
                    route_label(request), request.method, 500, time.perf_counter() - started
                )
                raise
            route = route_label(request)
            metrics.request(
                route, request.method, response.status_int, time.perf_counter() - started
            )
            prepare = getattr(response, "prepare", None)  # an HTTP exception's lazy body
            if prepare is not None and not response.has_body:
                prepare(request.environ)
            length = response.content_length  # WebOb's app_iter setter drops it
            response.app_iter = CountingIter(response.app_iter, lambda n: metrics.sent(route, n))
            response.content_length = length
            return response

    return observe


class CountingIter:
    """An app_iter that reports how many bytes were taken when the server closes it.

    It keeps ``app_iter_range`` (WebOb's Range support) so a file is still read from the
    range's start instead of from its beginning."""

    def __init__(self, inner: Iterable[bytes], report: Callable[[int], None]) -> None:
        self.inner = inner
        self.report: Callable[[int], None] | None = report
        self.count = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.inner:
            self.count += len(chunk)
            yield chunk

    def app_iter_range(self, start: int | None, stop: int | None) -> CountingIter:
        ranged = getattr(self.inner, "app_iter_range", None)
        inner: Any = ranged(start, stop) if ranged else AppIterRange(self.inner, start, stop)
        report, self.report = self.report, None  # the ranged iterator reports instead
        return CountingIter(inner, report or (lambda count: None))

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()
        if self.report is not None:
            report, self.report = self.report, None
            report(self.count)
