"""ppc-make-config's files served by pserve, as a user starts them."""

from __future__ import annotations

import base64
import subprocess
import urllib.request

import pytest

from tests.fixtures.access import FAST_HASH
from tests.functional.access import world
from tests.tools import free_port, stop_process, venv_tool, wait_for_port

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("flag", ["-d", "-t"])
def test_pserve_serves_a_written_config(tmp_path, flag):
    ini = tmp_path / "server.ini"
    subprocess.run(
        [venv_tool("ppc-make-config"), flag, "--admin", "root", "--password-hash", FAST_HASH,
         "-o", str(ini)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    port = free_port()
    with open(tmp_path / "server.log", "wb") as log:
        process = subprocess.Popen(
            [venv_tool("pserve"), str(ini), "host=127.0.0.1", f"port={port}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    try:
        wait_for_port(port, process)
        token = base64.b64encode(f"root:{world.PASSWORD}".encode()).decode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/simple/", headers={"Authorization": f"Basic {token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200
    finally:
        stop_process(process)
