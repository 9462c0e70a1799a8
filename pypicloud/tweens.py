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
``over=pyramid.tweens.EXCVIEW``). Latency is the time to produce the response object (a
streamed body's transfer is not in it); response bytes are counted as the WSGI server takes
them (a Range answer counts the bytes of the range, a 304 or HEAD none; a whole file handed
to the server's ``wsgi.file_wrapper`` counts its Content-Length: wrapping it to count would
make waitress copy the file through its buffers, see ``pypicloud/wsgibody.py``). A conditional
response (a file) is resolved here, so its status is the one sent (206, 304); Pyramid's
response callbacks then run on that resolved response.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response

from pypicloud.audit import Actor, acting
from pypicloud.metrics import Metrics
from pypicloud.views.errors import drop_malformed_range
from pypicloud.wsgibody import is_file_wrapper

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
            if response.conditional_response:
                drop_malformed_range(request)  # as the view's NewRequest subscriber does
                # WebOb turns it into a 206, 304 or 416 only when the server calls it: do
                # that now, so the status counted is the one sent (Range, If-None-Match).
                response = request.get_response(response)
            else:
                prepare = getattr(response, "prepare", None)  # an HTTP exception's lazy body
                if prepare is not None and not response.has_body:
                    prepare(request.environ)
            route = route_label(request)
            seconds = time.perf_counter() - started
            sent = metrics.request(route, request.method, response.status_int, seconds)
            length = response.content_length  # WebOb's app_iter setter drops it
            if is_file_wrapper(request.environ, response.app_iter):
                if length:  # counted as sent: a wrapped file would be copied by waitress
                    sent.inc(length)
                return response
            response.app_iter = CountingIter(response.app_iter, lambda n: n and sent.inc(n))
            response.content_length = length
            return response

    return observe


class CountingIter:
    """An app_iter that reports how many bytes were taken when the server closes it."""

    def __init__(self, inner: Iterable[bytes], report: Callable[[int], object]) -> None:
        self.inner = inner
        self.report: Callable[[int], object] | None = report
        self.count = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.inner:
            self.count += len(chunk)
            yield chunk

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()
        if self.report is not None:
            report, self.report = self.report, None
            report(self.count)
