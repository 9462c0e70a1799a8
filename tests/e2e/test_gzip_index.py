"""The real pip and uv install from a large index served in gzip (pypicloud/compression.py)."""

from __future__ import annotations

import gzip
import urllib.request

import pytest

from tests.dists import write_dists
from tests.e2e.conftest import installed, pip_install, uv_install
from tests.e2e.test_clients import twine_upload
from tests.functional.conftest import auth

pytestmark = pytest.mark.e2e


@pytest.fixture
def large(server, tmp_path):
    """One project with 12 releases (a project page well over 1 KB) and 40 others."""
    dist = tmp_path / "dist"
    files = []
    for minor in range(12):
        files += write_dists(dist, "corp-lib", f"1.{minor}")
    for number in range(40):
        files += write_dists(dist, f"corp-filler-project-{number}", "1.0")
    twine_upload(server, files)
    return server


def gzip_page(server, path: str) -> bytes:
    request = urllib.request.Request(
        server.url + path, headers={**auth("bob"), "Accept-Encoding": "gzip"}
    )
    with urllib.request.urlopen(request) as response:  # urllib does not decode it
        assert response.headers["Content-Encoding"] == "gzip"
        return gzip.decompress(response.read())


def test_pip_and_uv_install_from_gzip_pages(large, tmp_path):
    for _ in range(2):  # the view, then the fast path
        assert b"corp_lib-1.11.tar.gz" in gzip_page(large, "/simple/corp-lib/")
        assert b"corp-filler-project-39" in gzip_page(large, "/simple/")
    pip_install(large, tmp_path / "pip", "corp-lib")
    assert installed(tmp_path / "pip") == {"corp_lib-1.11.dist-info"}
    uv_install(large, tmp_path / "uv", "corp-lib")
    assert installed(tmp_path / "uv") == {"corp_lib-1.11.dist-info"}
