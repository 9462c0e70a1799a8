"""What the adversarial suite shares: snapshots of storage and the database, and real servers.

A refused request must change nothing, so tests take a ``Snapshot`` before and compare after:
every file under the storage directory (the temporaries' folder included) and every record
with the database's serial.
"""

from __future__ import annotations

import dataclasses
import http.client
import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from webtest import TestApp

from tests.e2e.conftest import Server, write_ini
from tests.functional.conftest import make_app  # noqa: F401 (the WebTest app fixture)
from tests.tools import free_port, stop_process, venv_tool, wait_for_port

TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line \d+")


@dataclasses.dataclass(frozen=True)
class Snapshot:
    files: frozenset[tuple[str, int]]
    records: frozenset[tuple[str, str | None]]
    serial: int


def snapshot(app: TestApp) -> Snapshot:
    services = app.app.registry.services
    root = Path(services.storage.directory)
    files = frozenset(
        (str(path.relative_to(root)), path.stat().st_size)
        for path in root.rglob("*")
        if path.is_file()
    )
    records = frozenset((p.filename, p.sha256) for p in services.cache.all_packages())
    return Snapshot(files, records, services.cache.serial())


def build_app(tmp_path: Path, **overrides: str) -> TestApp:
    """A WebTest app as tests/functional builds one, for a module to share."""
    from pypicloud import make_config
    from tests.functional.conftest import base_settings, started

    settings = {**base_settings(tmp_path), **overrides}
    return started(make_config(settings, here=str(tmp_path), environ={}))


def assert_no_stack_trace(body: str | bytes) -> None:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    assert not TRACEBACK.search(text), text[:2000]


class LiveServer(Server):
    """A pserve process this test may kill (SIGKILL) and start again on the same folder."""

    def __init__(self, port: int, root: Path, ini: Path) -> None:
        super().__init__(port, root)
        self.ini = ini
        self.process: subprocess.Popen | None = None

    @property
    def storage(self) -> Path:
        return self.root / "packages"

    @property
    def log(self) -> str:
        return (self.root / "server.log").read_text(errors="replace")

    def start(self) -> LiveServer:
        with open(self.root / "server.log", "ab") as log:
            self.process = subprocess.Popen(
                [venv_tool("pserve"), str(self.ini)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
            )
        wait_for_port(self.port, self.process)
        # pserve binds the socket before it loads the app (pypicloud/serve.py): wait until
        # the app answers, so what start-up does (the temporaries' sweep) has been done.
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health/live", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.05)
        return self

    def kill(self) -> None:
        """SIGKILL: no handler, no clean-up, as a crash or the OOM killer ends a server."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            stop_process(self.process)

    def connection(self, timeout: float = 60) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)


@pytest.fixture
def live_server(tmp_path) -> Iterator[Callable[..., LiveServer]]:
    """Start pserve on a fresh ini; ``server_section`` adds lines to ``[server:main]``."""
    servers: list[LiveServer] = []

    def start(server_section: str = "", **extra: str | None) -> LiveServer:
        port = free_port()
        root = tmp_path / f"server-{port}"
        root.mkdir()
        ini = root / "server.ini"
        write_ini(ini, port, extra)
        # Logging reads its format raw: one "%" each, so warnings show as WARNING lines.
        ini.write_text(ini.read_text().replace("%%(", "%("))
        if server_section:
            text = ini.read_text().replace("threads = 8\n", f"threads = 8\n{server_section}\n")
            ini.write_text(text)
        server = LiveServer(port, root, ini)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(autouse=True)
def cheap_dummy_hash(monkeypatch):
    """Unknown user names cost a dummy password hash (so they take as long as known ones);
    this suite sends hundreds of them, so in-process apps skip that cost here."""
    from pypicloud.access import passwords

    monkeypatch.setattr(passwords.context, "dummy_verify", lambda *args, **kwargs: False)
