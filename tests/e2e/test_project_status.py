"""Project status (PEP 792) against a real pserve, with the real pip, uv and twine."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.dists import write_dists
from tests.e2e.conftest import installed, launch, pip_install, uv_install
from tests.e2e.test_clients import twine_upload
from tests.functional.conftest import auth
from tests.tools import stop_process

pytestmark = pytest.mark.e2e

STATUSES = {"old-lib": "deprecated", "frozen-lib": "archived", "bad-lib": "quarantined"}
REASON = "moved to new-lib"


def set_status(server, project: str, status: str) -> dict:
    request = urllib.request.Request(
        f"{server.url}/api/package/{project}/status",
        data=json.dumps({"status": status, "reason": REASON}).encode(),
        method="PUT",
        headers={**auth("alice"), "Content-Type": "application/json"},
    )
    return json.load(urllib.request.urlopen(request))


@pytest.fixture(scope="module")
def marked(tmp_path_factory):
    """One server; each project uploaded with twine while active, then given its status."""
    root = tmp_path_factory.mktemp("status")
    process, server = launch(root, {})
    try:
        dist = root / "dist"
        files = [f for name in STATUSES for f in write_dists(dist, name, "1.0")]
        twine_upload(server, files)
        for project, status in STATUSES.items():
            assert set_status(server, project, status)["status"] == status
        yield server
    finally:
        stop_process(process)


def _simple_json(server, project: str) -> dict:
    request = urllib.request.Request(
        f"{server.url}/simple/{project}/",
        headers={**auth("bob"), "Accept": "application/vnd.pypi.simple.v1+json"},
    )
    return json.load(urllib.request.urlopen(request))


def test_pages_carry_the_status(marked):
    for project, status in STATUSES.items():
        page = _simple_json(marked, project)
        assert page["meta"]["api-version"] == "1.4"
        assert page["project-status"] == {"status": status, "reason": REASON}
        assert len(page["files"]) == (0 if status == "quarantined" else 2)


@pytest.mark.parametrize("install", [pip_install, uv_install], ids=["pip", "uv"])
def test_deprecated_and_archived_install_quarantined_does_not(marked, tmp_path, install):
    target = tmp_path / "site"
    install(marked, target, "old-lib", "frozen-lib")
    assert installed(target) == {"old_lib-1.0.dist-info", "frozen_lib-1.0.dist-info"}
    refused = install(marked, tmp_path / "other", "bad-lib", check=False)
    assert refused.returncode != 0
    said = (refused.stdout + refused.stderr).lower()
    assert "no matching distribution" in said or "no versions" in said, said


def test_twine_upload_to_an_archived_project_shows_the_400_reason(marked, tmp_path):
    files = write_dists(tmp_path / "dist", "frozen-lib", "2.0")
    result = twine_upload(marked, files, check=False)
    said = result.stdout + result.stderr
    assert result.returncode != 0
    assert "400" in said
    assert "Project is archived: uploads are not allowed" in said
    assert REASON in said
    assert len(_simple_json(marked, "frozen-lib")["files"]) == 2  # nothing was stored
