"""Two app processes behind the shipped nginx, sharing S3 (moto) and PostgreSQL.

Upload through one process; install with the real pip and uv through nginx; kill one
process while clients keep asking, and nothing fails: nginx retries on the other."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.dists import wheel_name, write_dists
from tests.e2e.conftest import installed, run
from tests.e2e.production import AppProcess
from tests.e2e.test_nginx import fetch, trusting
from tests.fixtures.s3 import CREDENTIALS, REGION, unique_bucket
from tests.functional.conftest import PASSWORD, auth
from tests.tools import venv_tool

pytestmark = pytest.mark.e2e


@pytest.fixture
def cluster(tmp_path, moto_endpoint, postgresql_url, start_nginx):
    env = {
        "PPC_PYPI_STORAGE": "s3",
        "PPC_STORAGE_BUCKET": unique_bucket(),
        "PPC_STORAGE_ENDPOINT_URL": moto_endpoint,
        "PPC_STORAGE_REGION_NAME": REGION,
        "PPC_STORAGE_AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
        "PPC_STORAGE_AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
        "PPC_DB_URL": postgresql_url,
        # Bytes through nginx and the apps (not a redirect to S3), so a kill is felt.
        "PPC_PYPI_STREAM_FILES": "true",
    }
    # What a site on S3 changes in production.ini: no directory, no nginx hand-over.
    ini = {"storage.dir": None, "storage.accel_redirect": None}
    apps = [AppProcess(tmp_path, env, ini).start() for _ in range(2)]
    nginx = start_nginx([a.port for a in apps], tmp_path / "unused-storage")
    yield apps, nginx
    for app in apps:
        app.stop()


def install(tool: str, index: str, cert: str, target, *packages: str) -> None:
    if tool == "pip":
        command = [venv_tool("pip"), "install", "--no-cache-dir", "--cert", cert]
    else:
        command = [venv_tool("uv"), "pip", "install", "--no-cache", "--python",
                   venv_tool("python")]  # fmt: skip
    env = trusting(Path(cert))
    run([*command, "--target", str(target), "--index-url", index, *packages], env=env)


def test_two_processes_one_killed_no_request_fails(cluster, tmp_path):
    apps, nginx = cluster
    cert = nginx.root.parent / "tls" / "ca.pem"
    dist = tmp_path / "dist"
    files = write_dists(dist, "corp-lib", "1.0")
    files += write_dists(dist, "corp-app", "2.0", requires_dist=("corp-lib>=1.0",))
    # Upload through the first process directly; the second learns of it from PostgreSQL.
    run([venv_tool("twine"), "upload", "--non-interactive", "--disable-progress-bar",
         "--repository-url", f"http://127.0.0.1:{apps[0].port}/simple/", "-u", "bob", "-p",
         PASSWORD, *map(str, files)])  # fmt: skip
    index = f"https://bob:{PASSWORD}@localhost:{nginx.tls_port}/simple/"
    for tool in ("pip", "uv"):
        target = tmp_path / f"before-{tool}"
        install(tool, index, str(cert), target, "corp-app")
        assert {"corp_app-2.0.dist-info", "corp_lib-1.0.dist-info"} <= installed(target)
    # nginx spread the installs over both processes.
    assert all('"message": "GET /api/package/' in a.log.read_text() for a in apps)

    # Kill one process while requests keep coming through nginx.
    url = f"{nginx.url}/api/package/corp-lib/{wheel_name('corp-lib', '1.0')}"
    statuses: list[int] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            statuses.append(fetch(url, cert, auth("bob")).status)
            statuses.append(fetch(f"{nginx.url}/simple/corp-lib/", cert, auth("bob")).status)

    with ThreadPoolExecutor(4) as pool:
        running = [pool.submit(hammer) for _ in range(4)]
        while len(statuses) < 40:
            stop.wait(0.05)
        apps[0].kill()
        for tool in ("pip", "uv"):
            target = tmp_path / f"after-{tool}"
            install(tool, index, str(cert), target, "corp-app")
            assert {"corp_app-2.0.dist-info", "corp_lib-1.0.dist-info"} <= installed(target)
        stop.set()
        for future in running:
            future.result()
    assert len(statuses) > 40 and set(statuses) == {200}
    # nginx did meet the dead process, and retried: no 5xx ever reached a client.
    assert re.search(r"connect\(\) failed|upstream prematurely closed|reset by peer",
                     nginx.error_log())  # fmt: skip
    codes = re.findall(r'" (\d{3}) ', (nginx.root / "access.log").read_text())
    assert codes and not [c for c in codes if c.startswith("5")]
