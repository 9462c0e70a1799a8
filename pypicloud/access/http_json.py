"""A tiny JSON-over-HTTP GET client with a hard deadline, for the remote access backend.

The standard library only (no new dependency). Each call opens its own connection, so one
client is safe to share between request threads, and every call is bounded by ``timeout``
as a whole (connect, send, and each read, against one deadline): a slow or silent server
costs a worker at most that long, never hangs it.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

MAX_ANSWER_BYTES = 32 * 1024 * 1024
CHUNK = 64 * 1024


class RemoteError(Exception):
    """The server could not be reached, was too slow, or gave an unusable answer."""


class NotFound(RemoteError):
    """The server answered 404: the thing asked about (a user, a group) does not exist."""


class JsonClient:
    def __init__(self, base_url: str, timeout: float, auth: tuple[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self.headers = {"Accept": "application/json", "User-Agent": "pypicloud"}
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            self.headers["Authorization"] = f"Basic {token}"
        self._ssl = ssl.create_default_context() if self.https else None

    def get(self, uri: str, params: dict[str, str] | None = None) -> Any:
        """The decoded JSON answer to ``GET <base><uri>?<params>``.

        Raises ``NotFound`` for a 404 and ``RemoteError`` for anything else but a 200 with
        JSON. Messages name the path, never the query (it may hold a password).
        """
        path = self.prefix + uri + ("?" + urlencode(params) if params else "")
        deadline = time.monotonic() + self.timeout
        conn = self._connection()
        try:
            conn.request("GET", path, headers=self.headers)
            sock = conn.sock  # kept: http.client drops it from conn when the answer ends
            _remaining(deadline, sock)
            response = conn.getresponse()
            body = _read(response, sock, deadline)
        except TimeoutError:
            raise RemoteError(f"{uri}: no answer within {self.timeout:g}s") from None
        except (OSError, http.client.HTTPException) as exc:
            raise RemoteError(f"{uri}: {exc or type(exc).__name__}") from None
        finally:
            conn.close()
        if response.status == 404:
            raise NotFound(f"{uri}: 404 Not Found")
        if response.status != 200:
            raise RemoteError(f"{uri}: HTTP {response.status} {response.reason}")
        try:
            return json.loads(body)
        except ValueError:
            raise RemoteError(f"{uri}: the answer is not JSON") from None

    def _connection(self) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout, context=self._ssl
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)


def _remaining(deadline: float, sock: socket.socket | None) -> None:
    """Shrink the socket timeout to what is left of the deadline (or fail past it)."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    if sock is not None:
        sock.settimeout(left)


def _read(response: http.client.HTTPResponse, sock: socket.socket | None, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        _remaining(deadline, sock)
        chunk = response.read1(CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise RemoteError(f"answer larger than {MAX_ANSWER_BYTES} bytes")
        chunks.append(chunk)
