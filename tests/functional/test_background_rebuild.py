"""Start-up over a full store and an empty database: the server answers during the rebuild.

The storage's listing waits on an Event, so the rebuild is deterministically unfinished
while the test asks /health, the index and the admin status; then it is let through.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from webtest import TestApp

from pypicloud import make_config, wsgi_app
from pypicloud.models import Package
from pypicloud.settings import Settings
from pypicloud.storage.files import FileStorage
from tests.dists import wheel_name
from tests.functional.conftest import auth, base_settings

GATE = threading.Event()  # set: the listing may go on
LISTED_ONE = threading.Event()  # the listing has yielded its first file


class GatedStorage:
    """File storage whose list() yields one file, then waits for GATE."""

    def __init__(self, inner: FileStorage) -> None:
        self.inner = inner

    @classmethod
    def from_settings(cls, settings: Settings) -> GatedStorage:
        return cls(FileStorage.from_settings(settings))

    def list(self, known: Mapping[str, Package] | None = None) -> Iterator[Package]:
        for i, package in enumerate(self.inner.list(known)):
            yield package
            if i == 0:
                LISTED_ONE.set()
                assert GATE.wait(30)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def fill(root, count: int) -> None:
    """Tiny files with ``.meta`` sidecars, written directly (the original's layout)."""
    for i in range(count):
        version = f"1.{i}"
        name = f"pkg{i % 50}"
        directory = root / name / version
        directory.mkdir(parents=True, exist_ok=True)
        filename = wheel_name(name, version)
        (directory / filename).write_bytes(b"x")
        meta = {"summary": "s", "hash_sha256": "ab" * 32, "hash_md5": "cd" * 16}
        (directory / (filename + ".meta")).write_text(json.dumps(meta))


@pytest.fixture
def gate():
    GATE.clear()
    LISTED_ONE.clear()
    yield GATE
    GATE.set()  # never leave a rebuild thread waiting


def test_the_server_answers_while_the_start_up_rebuild_runs(tmp_path, gate):
    fill(tmp_path / "packages", 200)
    settings = {**base_settings(tmp_path), "pypi.storage": f"{__name__}:GatedStorage"}
    config = make_config(settings, here=str(tmp_path), environ={})  # returns at once
    app = TestApp(wsgi_app(config))
    assert LISTED_ONE.wait(10)

    health = app.get("/health", status=503).json
    assert health["status"] == "rebuilding" and health["rebuild"]["running"] is True
    assert app.get("/health/live").json == {"status": "alive"}
    assert app.get("/health?live").status_int == 200
    app.get("/simple/", status=401)  # permissions apply as ever
    assert app.get("/simple/", headers=auth("bob")).status_int == 200
    status = app.get("/admin/rebuild/status", headers=auth("alice")).json
    assert status["running"] is True and status["listed"] == 1 and status["finished"] is None
    admin_page = app.get("/manage", headers=auth("alice")).text
    assert "Rebuilding: 1 files listed so far" in admin_page
    assert "Rebuild from storage</button>" not in admin_page
    busy = app.post("/admin/rebuild?background=1", headers=auth("alice"), status=409).json
    assert busy["started"] is False
    app.post("/admin/rebuild", headers=auth("alice"), status=409)

    gate.set()
    config.registry.services.packages.rebuilder.wait(30)
    health = app.get("/health").json
    assert health["status"] == "ok" and "rebuild" not in health
    status = app.get("/admin/rebuild/status", headers=auth("alice")).json
    assert (status["running"], status["listed"], status["result"]) == (False, 200, 200)
    assert "pkg7" in app.get("/simple/", headers=auth("bob")).text


def test_an_admin_starts_a_background_rebuild_and_follows_it(tmp_path, gate):
    gate.set()
    fill(tmp_path / "packages", 10)
    settings = {**base_settings(tmp_path), "pypi.storage": f"{__name__}:GatedStorage"}
    config = make_config(settings, here=str(tmp_path), environ={})
    app = TestApp(wsgi_app(config))
    config.registry.services.packages.rebuilder.wait(30)
    assert app.post("/admin/rebuild", headers=auth("alice")).json == {"packages": 10}
    gate.clear()
    LISTED_ONE.clear()
    started = app.post("/admin/rebuild?background=1", headers=auth("alice"), status=202).json
    assert started["started"] is True
    assert LISTED_ONE.wait(10)
    assert app.get("/health", status=503).json["status"] == "rebuilding"
    assert len(app.get("/simple/", headers=auth("bob")).html.find_all("a")) == 10  # graceful
    gate.set()
    config.registry.services.packages.rebuilder.wait(30)
    app.get("/admin/rebuild/status", status=401)
    assert app.get("/admin/rebuild/status", headers=auth("alice")).json["result"] == 10


def test_a_start_up_rebuild_of_many_files_is_timed(tmp_path, gate):
    """A real measurement over 20,000 files in file storage (printed; run with -s)."""
    gate.set()
    count = 20_000
    fill(tmp_path / "packages", count)
    settings = base_settings(tmp_path)
    began = time.perf_counter()
    config = make_config(settings, here=str(tmp_path), environ={})
    start_up = time.perf_counter() - began
    config.registry.services.packages.rebuilder.wait(120)
    rebuilt = time.perf_counter() - began
    print(f"\n{count} files: start-up returned in {start_up:.2f} s, rebuilt in {rebuilt:.2f} s")
    status = config.registry.services.packages.rebuilder.status()
    assert status.result == count and status.listed == count
    assert start_up < rebuilt
