"""Two app instances on one database (SQL, Redis) while one of them rebuilds from storage.

The rebuilding instance's storage listing stops, once it has listed every file, until the
test opens a gate: meanwhile the other instance uploads and deletes. Those writes must
survive the rebuild, and the other instance's status page must show the rebuild.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from webtest import TestApp

from pypicloud import make_config
from pypicloud.models import Package
from pypicloud.settings import Settings
from pypicloud.storage.files import FileStorage
from tests.dists import wheel_name
from tests.functional.conftest import auth, base_settings, started, upload

GATE = threading.Event()  # set: the listing may end
LISTED_ALL = threading.Event()  # the listing has yielded every file


class ListThenWaitStorage:
    """File storage whose list() yields every file, then waits for GATE."""

    def __init__(self, inner: FileStorage) -> None:
        self.inner = inner

    @classmethod
    def from_settings(cls, settings: Settings) -> ListThenWaitStorage:
        return cls(FileStorage.from_settings(settings))

    def list(self, known: Mapping[str, Package] | None = None) -> Iterator[Package]:
        yield from list(self.inner.list(known))
        LISTED_ALL.set()
        assert GATE.wait(30)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    GATE.clear()
    LISTED_ALL.clear()
    yield GATE
    GATE.set()  # never leave a rebuild thread waiting


@pytest.fixture(params=["postgresql", "mysql", "redis"])
def db_settings(request) -> dict[str, str]:
    if request.param == "redis":
        prefix = request.getfixturevalue("redis_prefix")
        url = request.getfixturevalue("redis_url")
        return {"pypi.db": "redis", "db.url": url, "db.redis_prefix": prefix}
    return {"pypi.db": "sql", "db.url": request.getfixturevalue(f"{request.param}_url")}


def names(app: TestApp) -> str:
    return app.get("/simple/", headers=auth("bob")).text


def test_writes_of_another_process_during_a_rebuild_survive_it(tmp_path, gate, db_settings):
    shared = {**base_settings(tmp_path), **db_settings}
    other = started(make_config(shared, here=str(tmp_path), environ={}))
    upload(other, "kept", "1.0")
    upload(other, "doomed", "1.0")
    rebuilding = {**shared, "pypi.storage": f"{__name__}:ListThenWaitStorage"}
    config = make_config(rebuilding, here=str(tmp_path), environ={})
    rebuilder = config.registry.services.packages.rebuilder
    app = started(config)

    app.post("/admin/rebuild?background=1", headers=auth("alice"), status=202)
    assert LISTED_ALL.wait(10)  # the listing has "doomed" and lacks "fresh"
    upload(other, "fresh", "1.0")
    other.delete(f"/api/package/doomed/{wheel_name('doomed', '1.0')}", headers=auth("alice"))

    status = other.get("/admin/rebuild/status", headers=auth("alice")).json
    assert status["running"] is True and status["owner"] == rebuilder.owner
    assert status["started"] is not None and status["finished"] is None

    gate.set()
    rebuilder.wait(30)
    for instance in (app, other):
        listing = names(instance)
        assert "kept" in listing and "fresh" in listing and "doomed" not in listing
    assert wheel_name("fresh", "1.0") in other.get("/simple/fresh/", headers=auth("bob")).text
    status = other.get("/admin/rebuild/status", headers=auth("alice")).json
    assert (status["running"], status["result"], status["error"]) == (False, 2, None)
    assert status["owner"] == rebuilder.owner and status["finished"] is not None


def test_a_rebuild_without_other_writes_still_mirrors_storage(tmp_path, gate, db_settings):
    """The change log does not keep a record storage lost before the rebuild began."""
    gate.set()
    shared = {**base_settings(tmp_path), **db_settings}
    app = started(make_config(shared, here=str(tmp_path), environ={}))
    upload(app, "lost", "1.0")
    upload(app, "here", "1.0")
    (tmp_path / "packages" / "lost" / "1.0" / wheel_name("lost", "1.0")).unlink()
    assert app.post("/admin/rebuild", headers=auth("alice")).json == {"packages": 1}
    assert "lost" not in names(app) and "here" in names(app)
