"""A WebTest app over real file storage and a real SQLite database, with test users."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from typing import Any

import pytest
from passlib.hash import sha512_crypt
from webtest import TestApp

from pypicloud import make_config, wsgi_app
from pypicloud.packages import DEFAULT_SERIAL_CACHE_MS
from tests.dists import sdist_bytes, sdist_name, wheel_bytes, wheel_name

PASSWORD = "s3cret-pw"
FAST_HASH = sha512_crypt.using(rounds=1000).hash(PASSWORD)


def auth(user: str, password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def base_settings(tmp_path) -> dict[str, str]:
    return {
        "storage.dir": str(tmp_path / "packages"),
        "db.url": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "user.alice": FAST_HASH,  # admin
        "user.bob": FAST_HASH,  # in group devs: may write everything by default
        "user.carol": FAST_HASH,  # reads by default; may read and write "carols-pkg"
        "user.dave": FAST_HASH,  # may read "secret" only through a grant
        "group.devs": "bob",
        "auth.admins": "alice",
        "pypi.default_read": "authenticated",
        "pypi.default_write": "devs",
        "package.carols-pkg.user.carol": "rw",
        "package.secret.user.bob": "rw",
        "package.secret.user.dave": "r",
    }


@pytest.fixture
def make_app(tmp_path) -> Callable[..., TestApp]:
    def factory(**overrides: str) -> TestApp:
        settings = base_settings(tmp_path)
        settings.update(overrides)
        settings = {k: v for k, v in settings.items() if v is not None}
        return started(make_config(settings, here=str(tmp_path), environ={}))

    return factory


def started(config: Any) -> TestApp:
    """The app once its start-up rebuild (now in the background) has finished."""
    config.registry.services.packages.rebuilder.wait()
    return TestApp(wsgi_app(config))


@pytest.fixture
def app(make_app) -> TestApp:
    return make_app()


def upload(
    app: TestApp,
    name: str,
    version: str,
    *,
    kind: str = "wheel",
    user: str = "bob",
    password: str = PASSWORD,
    content: bytes | None = None,
    filename: str | None = None,
    status: int | str = 200,
    url: str = "/simple/",
    fields: dict[str, str | None] | None = None,
):
    """POST a distribution the way twine does."""
    if kind == "wheel":
        content = wheel_bytes(name, version) if content is None else content
        filename = filename or wheel_name(name, version)
        filetype = "bdist_wheel"
    else:
        content = sdist_bytes(name, version) if content is None else content
        filename = filename or sdist_name(name, version)
        filetype = "sdist"
    form = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": name,
        "version": version,
        "filetype": filetype,
        "metadata_version": "2.1",
        "sha256_digest": hashlib.sha256(content).hexdigest(),
        "md5_digest": hashlib.md5(content).hexdigest(),
    }
    form.update(fields or {})
    form = {k: v for k, v in form.items() if v is not None}
    headers = auth(user, password) if user else {}
    return app.post(
        url,
        params=list(form.items()),
        upload_files=[("content", filename, content)],
        headers=headers,
        status=status,
    )


def within_serial_bound(check: Callable[[], bool], bound_ms: int = DEFAULT_SERIAL_CACHE_MS) -> None:
    """Wait until ``check()`` holds: another instance's write shows within
    ``db.serial_cache_ms`` (with slack for a loaded machine), not necessarily at once."""
    deadline = time.monotonic() + bound_ms / 1000 + 1.0
    while not check():
        assert time.monotonic() < deadline, f"not seen within {bound_ms} ms (+1 s)"
        time.sleep(0.02)
