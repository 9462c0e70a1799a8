"""Production logging: one JSON object per line, and an access log that never holds a secret.

``JSONFormatter`` turns every record into one line a log shipper parses without rules; the
fields a caller passes with ``extra=`` become keys. ``AccessLog`` wraps the WSGI app and
logs one record per request on ``pypicloud.access`` once the body has been sent: request id
(the client's ``X-Request-ID`` when it is sane, else a new one, echoed in the response),
user, method, path, status, duration and bytes (a whole file handed to the server's
``wsgi.file_wrapper`` is logged as it is handed over, with its Content-Length: wrapping it
to wait for the end would make waitress copy the file). It reads no header but the request
id, and the path goes without its query string (a sign-up token travels there), so neither
a password, a token nor a cookie can reach the log.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response

from pypicloud.wsgibody import is_file_wrapper

ACCESS_LOGGER = "pypicloud.access"
REQUEST_ID_HEADER = "X-Request-ID"
USER_KEY = "pypicloud.user"
REQUEST_ID_KEY = "pypicloud.request_id"
#: What a client (or nginx's ``$request_id``) may send as a request id; anything else is
#: replaced, so a log line never carries arbitrary client text under that name.
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# The attributes every LogRecord has; anything else came from ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class JSONFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", ...extra, "exc"?}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


#: A new request id is this process's random prefix and a count: unique across processes
#: and restarts like a uuid4, without reading the system's random source per request.
_ID_PREFIX = uuid.uuid4().hex[:16]
_ids = itertools.count(1)


def request_id_from(environ: dict[str, Any]) -> str:
    offered = environ.get("HTTP_X_REQUEST_ID", "")
    if offered and SANE_REQUEST_ID.match(offered):
        return offered
    return f"{_ID_PREFIX}{next(_ids):016x}"


class AccessLog:
    """WSGI middleware: the request id in, the access record out when the body is done."""

    def __init__(self, app: WSGIApp, logger: logging.Logger | None = None) -> None:
        self.app = app
        self.log = logger or logging.getLogger(ACCESS_LOGGER)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started = time.perf_counter()
        request_id = request_id_from(environ)
        environ[REQUEST_ID_KEY] = request_id
        environ["HTTP_X_REQUEST_ID"] = request_id
        seen: dict[str, Any] = {"status": "500"}

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"], seen["headers"] = status, headers  # read by _record, if it logs
            for name, _ in headers:  # a loop, not any(): this runs for every request
                if len(name) == 12 and name.lower() == "x-request-id":
                    headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
                    break
            else:
                headers = list(headers)
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info)

        try:
            body = self.app(environ, start)
        except BaseException:
            self._record(environ, request_id, 500, 0, started)
            raise
        if not self.log.isEnabledFor(logging.INFO):
            return body  # nothing to record: the body goes out as it is
        if is_file_wrapper(environ, body):
            # Wrapping it would make waitress copy the file through its buffers: record
            # now, with the length the server is about to send.
            self._record(environ, request_id, _status(seen), _length(seen), started)
            return body
        return _Counted(
            body, lambda sent: self._record(environ, request_id, _status(seen), sent, started)
        )

    def _record(
        self, environ: dict[str, Any], request_id: str, status: int, sent: int, started: float
    ) -> None:
        if not self.log.isEnabledFor(logging.INFO):
            return
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        method = environ.get("REQUEST_METHOD", "")
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        self.log.info(
            "%s %s %s",
            method,
            path,
            status,
            extra={
                "request_id": request_id,
                "user": environ.get(USER_KEY),
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": duration_ms,
                "bytes": sent,
                "client": environ.get("REMOTE_ADDR"),
            },
        )


def _status(seen: dict[str, Any]) -> int:
    return int(str(seen["status"]).split(" ", 1)[0])


def _length(seen: dict[str, Any]) -> int:
    headers = seen.get("headers") or ()
    return int(next((v for k, v in headers if k.lower() == "content-length"), 0))


class _Counted:
    """The response body, counting bytes; reports once, when the server closes it."""

    def __init__(self, body: Iterable[bytes], report: Callable[[int], None]) -> None:
        self.body = body
        self.report = report
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.body:
            self.sent += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.report(self.sent)


#: waitress logs "Task queue depth is N" at WARNING for every request that waits for a free
#: thread, which keep-alive clients make routine (pip and uv keep several connections): a
#: line per request under load, and 8-10 % of the root index's throughput here.
QUEUE_LOGGER = "waitress.queue"


def quiet_queue_warnings() -> None:
    """Raise waitress's queue-depth logger to ERROR, unless the ini gave it a level."""
    logger = logging.getLogger(QUEUE_LOGGER)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.ERROR)


def identity_tween_factory(
    handler: Callable[[Request], Response], registry: Registry
) -> Callable[[Request], Response]:
    """Puts the name of whoever the request turned out to be where ``AccessLog`` reads it.

    Only an identity the request already established is named: logging never triggers a
    password check of its own."""

    def tween(request: Request) -> Response:
        try:
            return handler(request)
        finally:
            identity = request.__dict__.get("_ppc_identity")
            if identity is not None:
                request.environ[USER_KEY] = identity.username

    return tween


def includeme(config: Any) -> None:
    config.add_tween("pypicloud.logs.identity_tween_factory")
