"""The real pip and uv through pserve in front of a real upstream index (StaticIndex).

A private app depends on a public package and on a private name that also exists upstream
(a dependency-confusion bait); the upstream counts every request it receives.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.dists import write_dists
from tests.e2e.conftest import installed, pip_install, run, uv_install
from tests.e2e.test_clients import twine_upload
from tests.fixtures.upstream import CountingProxy
from tests.tools import venv_tool

pytestmark = pytest.mark.e2e

APP = "corp_app-2.0.dist-info"
DEP_OLD = "public_dep-1.0.dist-info"
LOCAL = "corp_lib-1.0.dist-info"


@pytest.fixture
def upstream(static_index):
    static_index.add("public-dep", "1.0", age=dt.timedelta(days=30))
    # Too new for a 3-day cooldown: pip must resolve 1.0.
    static_index.add("public-dep", "2.0", age=dt.timedelta(hours=1))
    static_index.add("corp-lib", "99.0")  # the bait: same name as a private project
    return static_index


def release(server, tmp_path):
    dist = tmp_path / "dist"
    files = write_dists(dist, "corp-lib", "1.0")
    files += write_dists(dist, "corp-app", "2.0", requires_dist=("corp-lib", "public-dep"))
    twine_upload(server, files)


def test_cache_mode_with_pip_and_uv(start_server, upstream, tmp_path):
    server = start_server(
        **{
            "pypi.fallback": "cache",
            "pypi.fallback_url": upstream.simple_url,
            "pypi.fallback_min_age": "3d",
        }
    )
    release(server, tmp_path)
    pip_install(server, tmp_path / "pip", "corp-app")
    assert {APP, DEP_OLD, LOCAL} <= installed(tmp_path / "pip")
    uv_install(server, tmp_path / "uv", "corp-app")
    assert {APP, DEP_OLD, LOCAL} <= installed(tmp_path / "uv")
    assert upstream.seen("corp") == []  # private names never reach the upstream
    wheels = [p for p in upstream.seen("/files/public_dep-1.0") if p.endswith(".whl")]
    assert len(wheels) == 1  # fetched once (by pip), then served from the cache to uv
    assert upstream.seen("/files/public_dep-2.0") == []  # hidden by the cooldown

    upstream.stop()  # mid-test: local and cached packages stay installable
    pip_install(server, tmp_path / "down", "corp-app")
    assert {APP, DEP_OLD, LOCAL} <= installed(tmp_path / "down")


def test_redirect_mode_with_pip_and_uv(start_server, upstream, tmp_path):
    server = start_server(**{"pypi.fallback": "redirect", "pypi.fallback_url": upstream.simple_url})
    release(server, tmp_path)
    pip_install(server, tmp_path / "pip", "corp-app", "public-dep<2")
    assert {APP, DEP_OLD, LOCAL} <= installed(tmp_path / "pip")
    uv_install(server, tmp_path / "uv", "corp-app", "public-dep<2")
    assert {APP, DEP_OLD, LOCAL} <= installed(tmp_path / "uv")
    assert upstream.seen("corp") == []
    assert upstream.seen("/simple/public-dep/")  # the clients went there themselves


def test_none_mode_is_local_only(start_server, upstream, tmp_path):
    server = start_server(**{"pypi.fallback": "none", "pypi.fallback_url": upstream.simple_url})
    failed = run(
        [
            venv_tool("pip"),
            "install",
            "--no-cache-dir",
            "--target",
            str(tmp_path / "pip"),
            "--index-url",
            server.index(),
            "public-dep",
        ],
        check=False,
    )
    assert failed.returncode != 0 and "no matching distribution" in failed.stderr.lower()
    assert upstream.seen() == []


def test_cache_mode_in_front_of_another_pypicloud(start_server, tmp_path):
    """The upstream is a second instance of this server, public, behind a counting proxy."""
    public = start_server(**{"pypi.default_read": "everyone"})
    dist = tmp_path / "public"
    twine_upload(
        public, write_dists(dist, "public-dep", "1.0") + write_dists(dist, "corp-lib", "99")
    )
    proxy = CountingProxy(public.url)
    proxy.start()
    try:
        server = start_server(
            **{"pypi.fallback": "cache", "pypi.fallback_url": f"{proxy.url}/simple/"}
        )
        release(server, tmp_path)
        pip_install(server, tmp_path / "pip", "corp-app")
        assert {APP, DEP_OLD, LOCAL} <= installed(tmp_path / "pip")
        assert proxy.seen("/simple/public-dep/")
        assert [p for p in proxy.seen("/api/package/public-dep/") if p.endswith(".whl")]
        assert proxy.seen("corp") == []  # the bait was never asked for
    finally:
        proxy.stop()
