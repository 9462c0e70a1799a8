"""Two regions on moto's HTTP server: an upload on server A reaches server B's index through
S3 notifications, SQS and the real ``ppc-sync``; a delete on A leaves B's index too.

Both servers use the one moto bucket (standing for a bucket and its replica); each has its
own SQLite database. The queue and notification are set up by the real
``ppc-create-s3-sync``, run twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable

import pytest

from tests.dists import write_dists
from tests.e2e.conftest import Server, run
from tests.e2e.test_clients import twine_upload
from tests.functional.conftest import auth
from tests.tools import venv_tool

pytestmark = pytest.mark.e2e


def page(server: Server, project: str) -> str:
    request = urllib.request.Request(f"{server.url}/simple/{project}/", headers=auth("bob"))
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.read().decode()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return ""
        raise


def wait_until(check: Callable[[], bool], timeout: float = 60) -> float:
    """Seconds until ``check()`` held (polled; fails after ``timeout``)."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, "not within the deadline"
        time.sleep(0.1)
    return time.monotonic() - start


@pytest.fixture
def regions(start_server, s3_settings, moto_endpoint):
    shared = {
        "storage.dir": None,
        "pypi.storage": "s3",
        **s3_settings,
        "storage.prefix": "packages/",
        "sync.queue_name": f"sync-{uuid.uuid4().hex[:12]}",
        "sync.endpoint_url": moto_endpoint,
        "sync.wait_seconds": "2",
        "sync.max_receives": "3",
    }
    return start_server(**shared), start_server(**shared)


def test_an_upload_on_a_appears_on_b_and_a_delete_disappears(regions, tmp_path, record_property):
    a, b = regions
    ini = str(b.root / "server.ini")
    first = run([venv_tool("ppc-create-s3-sync"), ini], cwd=b.root)
    assert "created SQS queue" in first.stdout and "notifies" in first.stdout, first.stdout
    second = run([venv_tool("ppc-create-s3-sync"), ini], cwd=b.root)
    assert second.stdout.strip() == "already configured", second.stdout

    log_path = tmp_path / "sync.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [venv_tool("ppc-sync"), ini],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=b.root,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        # Started (its start-up rebuild done) and polling: the lag below is the sync's alone.
        wait_until(lambda: "reading " in log_path.read_text())
        files = write_dists(tmp_path / "dist", "corp-lib", "1.0")
        twine_upload(a, files)
        uploaded = time.monotonic()
        assert all(f.name in page(a, "corp-lib") for f in files)
        wait_until(lambda: all(f.name in page(b, "corp-lib") for f in files))
        lag = time.monotonic() - uploaded
        record_property("sync_lag_upload_seconds", round(lag, 2))
        print(f"upload on A to index page on B: {lag:.2f}s")

        wheel = files[0].name
        request = urllib.request.Request(
            f"{a.url}/api/package/corp-lib/{wheel}", method="DELETE", headers=auth("bob")
        )
        urllib.request.urlopen(request, timeout=10)
        lag = wait_until(lambda: wheel not in page(b, "corp-lib"))
        record_property("sync_lag_delete_seconds", round(lag, 2))
        print(f"delete on A to index page on B: {lag:.2f}s")
        assert files[1].name in page(b, "corp-lib")

        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0  # a long poll ends at once
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    output = log_path.read_text()
    assert "Traceback" not in output, output
    assert "stopped" in output, output


def test_ppc_sync_names_a_missing_queue(start_server, s3_settings, moto_endpoint):
    server = start_server(
        **{
            "storage.dir": None,
            "pypi.storage": "s3",
            **s3_settings,
            "sync.queue_name": f"nothing-{uuid.uuid4().hex[:8]}",
            "sync.endpoint_url": moto_endpoint,
        }
    )
    result = run([venv_tool("ppc-sync"), str(server.root / "server.ini"), "--once"], check=False)
    assert result.returncode == 1
    assert "ppc-create-s3-sync" in result.stderr.splitlines()[-1], result.stderr
