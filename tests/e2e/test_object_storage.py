"""pip and uv install through object storage: the server redirects to signed URLs."""

from __future__ import annotations

import pytest

from tests.dists import write_dists
from tests.e2e.conftest import installed, pip_install, uv_install
from tests.e2e.test_clients import twine_upload

pytestmark = pytest.mark.e2e
BACKENDS = {"s3": "s3", "gcs": "gcs", "azure": "azure-blob"}


@pytest.fixture(
    params=[(name, redirect) for name in BACKENDS for redirect in ("true", "false")],
    ids=lambda param: f"{param[0]}-redirect_urls={param[1]}",
)
def object_server(request, start_server):
    """redirect_urls=true: links to us, 302 to a signed URL; false: signed URLs in the index."""
    backend, redirect_urls = request.param
    settings = dict(request.getfixturevalue(f"{backend}_settings"))
    settings["pypi.storage"] = BACKENDS[backend]
    settings["storage.redirect_urls"] = redirect_urls
    return start_server(**{"storage.dir": None, **settings})


@pytest.fixture
def released(object_server, tmp_path):
    files = write_dists(tmp_path / "dist", "cloud-lib", "1.0")
    files += write_dists(tmp_path / "dist", "cloud-app", "1.0", requires_dist=("cloud-lib",))
    twine_upload(object_server, files)
    return object_server


EXPECTED = {"cloud_app-1.0.dist-info", "cloud_lib-1.0.dist-info"}


def test_pip_installs(released, tmp_path):
    target = tmp_path / "pip"
    pip_install(released, target, "cloud-app")
    assert installed(target) == EXPECTED


def test_uv_installs(request, released, tmp_path):
    if request.node.callspec.id.startswith("gcs-redirect_urls=false"):
        # uv probes a wheel URL with HEAD; gcp-storage-emulator answers HEAD with 501
        # (real GCS does not), so this one combination cannot pass against the emulator.
        request.applymarker(pytest.mark.xfail(strict=True, reason="emulator lacks HEAD"))
    target = tmp_path / "uv"
    uv_install(released, target, "cloud-app")
    assert installed(target) == EXPECTED
