"""Helpers shared by test fixtures: free ports, waiting for services, required tools."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"process exited with {process.returncode} before listening on {port}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listened on port {port} within {timeout}s")


def require_tool(path_or_name: str) -> str:
    """The tool's path; a missing tool skips locally but fails in CI (no silent skips)."""
    found = path_or_name if os.path.isfile(path_or_name) else shutil.which(path_or_name)
    if found:
        return found
    message = f"required test tool not found: {path_or_name} (run `make test` to install it)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def venv_tool(name: str) -> str:
    """A console script installed beside the running interpreter (the project's venv)."""
    import sys

    return require_tool(str(Path(sys.executable).parent / name))


def stop_process(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running(args: list[str], port: int, workdir: Path) -> Iterator[subprocess.Popen]:
    """A service process listening on ``port``, its output in ``workdir/service.log``,
    stopped on exit (emulators started once per test session)."""
    with open(workdir / "service.log", "wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    try:
        wait_for_port(port, process)
        yield process
    finally:
        stop_process(process)


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler for test servers: no access log, one call to answer."""

    def log_message(self, *args: object) -> None:
        pass

    def reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve_in_thread(handler: type[BaseHTTPRequestHandler], port: int = 0) -> ThreadingHTTPServer:
    """A threaded stdlib HTTP server on a local port (0: a free one), in a daemon thread."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop_serving(server: ThreadingHTTPServer | None) -> None:
    if server is not None:
        server.shutdown()
        server.server_close()
