"""The real ppc-retention on a running server's ini: a dry run, then a real run, and the
index that server serves shows the result."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.dists import write_dists
from tests.e2e.test_clients import twine_upload
from tests.functional.conftest import auth
from tests.tools import venv_tool

pytestmark = pytest.mark.e2e

RULES = "\n    keepall-*\n    * keep=2"


def simple_json(server, name: str) -> dict:
    request = urllib.request.Request(
        f"{server.url}/simple/{name}/",
        headers={**auth("bob"), "Accept": "application/vnd.pypi.simple.v1+json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def retention(server, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [venv_tool("ppc-retention"), str(server.root / "server.ini"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=server.root,
    )


def test_dry_run_then_real_run_and_the_index_follows(start_server, tmp_path):
    server = start_server(**{"pypi.retention": RULES})
    dist = tmp_path / "dist"
    files = [f for v in ("1.0", "1.1", "1.2") for f in write_dists(dist, "corp-lib", v)]
    files += [f for v in ("1.0", "2.0", "3.0") for f in write_dists(dist, "keepall-x", v)]
    twine_upload(server, files)
    urllib.request.urlopen(
        urllib.request.Request(
            f"{server.url}/api/package/corp-lib/1.0/keep", method="PUT", headers=auth("bob")
        ),
        timeout=30,
    )
    before = simple_json(server, "corp-lib")
    assert before["versions"] == ["1.0", "1.1", "1.2"]
    [old_url] = [f["url"] for f in before["files"] if f["filename"] == "corp_lib-1.0.tar.gz"]

    dry = retention(server, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout == ""  # the only release beyond the newest 2 is marked to keep
    assert "would delete 0 files of 0 releases" in dry.stderr

    urllib.request.urlopen(
        urllib.request.Request(
            f"{server.url}/api/package/corp-lib/1.0/keep", method="DELETE", headers=auth("bob")
        ),
        timeout=30,
    )
    dry = retention(server, "--dry-run")
    assert dry.stdout.splitlines() == [
        "corp-lib 1.0: corp_lib-1.0-py3-none-any.whl, corp_lib-1.0.tar.gz "
        "[beyond the newest 2 (rule '* keep=2')]"
    ], dry.stderr
    assert simple_json(server, "corp-lib")["versions"] == ["1.0", "1.1", "1.2"]

    real = retention(server)
    assert real.returncode == 0, real.stderr
    assert real.stdout == dry.stdout
    assert real.stderr.strip().splitlines()[-1] == "deleted 2 files of 1 releases"

    deadline = time.monotonic() + 10  # the server reads the new serial within db.serial_cache_ms
    while (page := simple_json(server, "corp-lib"))["versions"] != ["1.1", "1.2"]:
        assert time.monotonic() < deadline, page
        time.sleep(0.05)
    assert sorted(f["filename"] for f in page["files"]) == [
        "corp_lib-1.1-py3-none-any.whl",
        "corp_lib-1.1.tar.gz",
        "corp_lib-1.2-py3-none-any.whl",
        "corp_lib-1.2.tar.gz",
    ]
    assert simple_json(server, "keepall-x")["versions"] == ["1.0", "2.0", "3.0"]
    assert not (server.root / "packages" / "corp-lib" / "1.0").exists()
    gone = urllib.parse.urljoin(f"{server.url}/simple/corp-lib/", old_url)
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(urllib.request.Request(gone, headers=auth("bob")), timeout=30)
    assert missing.value.code == 404
