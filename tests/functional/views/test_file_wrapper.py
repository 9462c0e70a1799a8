"""A whole-file download reaches the WSGI server as its own ``wsgi.file_wrapper`` object,
through the access log and the metrics tween, so waitress sends it from the file instead of
copying it through its output buffers (pypicloud/wsgibody.py)."""

from __future__ import annotations

import logging
from hashlib import sha256

from webob import Request

from pypicloud import make_config
from pypicloud.logs import ACCESS_LOGGER, AccessLog
from pypicloud.views.files import READ_CAP, SMALL_FILE_BYTES
from tests.dists import wheel_bytes, wheel_name
from tests.functional.conftest import auth, base_settings, started, upload
from tests.rss import big_wheel


class ServerFileWrapper:
    """Stands for waitress's ReadOnlyFileBasedBuffer: a class, iterable, closable."""

    def __init__(self, file, block_size: int = 8192) -> None:
        self.file = file
        self.block_size = block_size

    def __iter__(self):
        while chunk := self.file.read(self.block_size):
            yield chunk

    def close(self) -> None:
        self.file.close()


def call(
    app, url: str, headers: dict[str, str], method: str = "GET"
) -> tuple[str, dict[str, str], object]:
    seen: dict[str, object] = {}

    def start_response(status, headerlist, exc_info=None):
        seen["status"], seen["headers"] = status, dict(headerlist)

    environ = Request.blank(url, headers=headers, method=method).environ
    environ["wsgi.file_wrapper"] = ServerFileWrapper
    body = app(environ, start_response)
    return seen["status"], seen["headers"], body  # type: ignore[return-value]


def test_a_file_body_is_the_servers_wrapper_and_is_logged_and_counted(tmp_path, caplog):
    settings = base_settings(tmp_path)
    testapp = started(make_config(settings, here=str(tmp_path), environ={}))
    content = big_wheel("alpha", "1.0", 2 * SMALL_FILE_BYTES)
    upload(testapp, "alpha", "1.0", content=content)
    app = AccessLog(testapp.app)
    url = f"/api/package/alpha/{wheel_name('alpha', '1.0')}"
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        for _ in range(2):  # the view, then the fast path
            status, headers, body = call(app, url, auth("bob"))
            assert status.startswith("200") and isinstance(body, ServerFileWrapper)
            assert b"".join(body) == content and int(headers["Content-Length"]) == len(content)
            body.close()
    sent = [r.bytes for r in caplog.records if r.name == ACCESS_LOGGER]  # type: ignore[attr-defined]
    assert sent == [len(content), len(content)]
    metrics = testapp.get("/metrics", headers=auth("alice")).text
    line = next(
        row
        for row in metrics.splitlines()
        if row.startswith('pypicloud_http_response_bytes_total{route="api_file"')
    )
    assert float(line.split()[-1]) == 2 * len(content)


def test_a_small_file_is_one_buffer_so_headers_and_body_leave_together(tmp_path):
    """A process killed between the headers and the body would leave nginx (and its client)
    a truncated answer it cannot retry: test_scale_out's kill -9 met exactly that."""
    testapp = started(make_config(base_settings(tmp_path), here=str(tmp_path), environ={}))
    upload(testapp, "alpha", "1.0")
    url = f"/api/package/alpha/{wheel_name('alpha', '1.0')}"
    for _ in range(2):  # the view, then the fast path
        status, headers, body = call(AccessLog(testapp.app), url, auth("bob"))
        chunks = list(body)  # type: ignore[call-overload]
        assert status.startswith("200") and not isinstance(body, ServerFileWrapper)
        assert chunks == [wheel_bytes("alpha", "1.0")]
        assert int(headers["Content-Length"]) == len(chunks[0])
        getattr(body, "close", lambda: None)()  # as a WSGI server does


def test_reads_of_the_wrapped_file_are_capped_however_much_the_server_asks(tmp_path):
    testapp = started(make_config(base_settings(tmp_path), here=str(tmp_path), environ={}))
    upload(testapp, "big", "1.0", content=big_wheel("big", "1.0", 4 * READ_CAP))
    url = f"/api/package/big/{wheel_name('big', '1.0')}"
    _, _, body = call(testapp.app, url, auth("bob"))
    assert isinstance(body, ServerFileWrapper)
    assert len(body.file.read(10 * READ_CAP)) <= READ_CAP  # waitress asks for ~4 MB
    body.close()


def test_a_head_request_never_hands_the_server_the_file(tmp_path):
    testapp = started(make_config(base_settings(tmp_path), here=str(tmp_path), environ={}))
    upload(testapp, "alpha", "1.0")
    url = f"/api/package/alpha/{wheel_name('alpha', '1.0')}"
    for _ in range(2):  # the view, then the fast path
        status, headers, body = call(AccessLog(testapp.app), url, auth("bob"), method="HEAD")
        assert status.startswith("200") and not isinstance(body, ServerFileWrapper)
        assert b"".join(body) == b"" and int(headers["Content-Length"]) > 0
        body.close()


def test_waitress_sends_the_whole_file_when_the_socket_takes_part_of_each_piece(tmp_path):
    """waitress reads a piece, seeks back, and seeks past what the socket took: the reads
    by position that serve it must follow those seeks exactly."""
    from waitress.buffers import ReadOnlyFileBasedBuffer

    testapp = started(make_config(base_settings(tmp_path), here=str(tmp_path), environ={}))
    content = big_wheel("big", "1.0", 6 * READ_CAP)
    upload(testapp, "big", "1.0", content=content)
    url = f"/api/package/big/{wheel_name('big', '1.0')}"
    environ = Request.blank(url, headers=auth("bob")).environ
    environ["wsgi.file_wrapper"] = ReadOnlyFileBasedBuffer
    for _ in range(2):  # the view, then the fast path
        body = testapp.app(environ.copy(), lambda status, headers, exc_info=None: None)
        assert isinstance(body, ReadOnlyFileBasedBuffer)
        remaining, received = body.prepare(), bytearray()
        for _ in range(1000):  # a bound, so that a wrong position fails instead of hanging
            if not remaining:
                break
            piece = body.get(4 * 1024 * 1024)  # what waitress asks for on loopback
            assert 0 < len(piece) <= READ_CAP
            taken = piece[: max(1, len(piece) * 2 // 3)]  # the socket took part of it
            received += taken
            body.skip(len(taken), True)
            remaining -= len(taken)
        body.close()
        assert sha256(received).hexdigest() == sha256(content).hexdigest()  # no 400 KB diff
