"""pserve on the shipped development.ini, as a user starts it: choosing the address, and a
taken address ending start-up with one line."""

from __future__ import annotations

import shutil
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tools import ROOT, free_port, stop_process, venv_tool, wait_for_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def ini(tmp_path) -> Path:
    """A copy of development.ini: its data directory is then under tmp_path."""
    copy = tmp_path / "development.ini"
    shutil.copy(ROOT / "development.ini", copy)
    return copy


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def pserve(ini: Path, *variables: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [venv_tool("pserve"), str(ini), *variables],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ini.parent,
    )


def assert_one_line_naming(result: subprocess.CompletedProcess, address: str) -> None:
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        f"pypicloud cannot start: address {address} is already in use"
    )
    assert "Traceback" not in result.stderr + result.stdout


def test_a_port_in_use_in_the_ini_ends_start_up_with_one_line(ini, taken_port):
    text = ini.read_text()
    assert "listen = localhost:6543\n" in text
    ini.write_text(text.replace("listen = localhost:6543", f"listen = 127.0.0.1:{taken_port}"))
    assert_one_line_naming(pserve(ini), f"127.0.0.1:{taken_port}")


def test_a_port_in_use_given_on_the_command_line_is_named(ini, taken_port):
    result = pserve(ini, "host=127.0.0.1", f"port={taken_port}")
    assert_one_line_naming(result, f"127.0.0.1:{taken_port}")


def test_host_and_port_variables_choose_the_address(ini):
    port = free_port()
    with open(ini.parent / "server.log", "wb") as log:
        process = subprocess.Popen(
            [venv_tool("pserve"), str(ini), "host=127.0.0.1", f"port={port}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ini.parent,
        )
    try:
        wait_for_port(port, process)
        # /health/live: /health is 503 while the first (background) rebuild runs.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=30) as answer:
            assert answer.status == 200
    finally:
        stop_process(process)
