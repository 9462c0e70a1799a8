"""A real server process, started as a user starts it: pserve on an ini file, free port."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.functional.conftest import FAST_HASH, PASSWORD
from tests.tools import free_port, stop_process, venv_tool, wait_for_port


class Server:
    def __init__(self, port: int, root: Path) -> None:
        self.port = port
        self.root = root
        self.url = f"http://127.0.0.1:{port}"

    def index(self, user: str | None = "bob") -> str:
        credentials = f"{user}:{PASSWORD}@" if user else ""
        return f"http://{credentials}127.0.0.1:{self.port}/simple/"


def write_ini(path: Path, port: int, extra: dict[str, str | None]) -> None:
    settings: dict[str, str | None] = {
        "use": "egg:pypicloud",
        "storage.dir": "%(here)s/packages",
        "db.url": "sqlite:///%(here)s/db.sqlite",
        "user.alice": FAST_HASH,
        "user.bob": FAST_HASH,
        "auth.admins": "alice",
        "pypi.default_read": "authenticated",
        "pypi.default_write": "authenticated",
        "pypi.fallback": "none",  # no test reaches the real PyPI unless it asks
    }
    settings.update(extra)
    kept = {k: v for k, v in settings.items() if v is not None}
    app = "\n".join(f"{k} = {v.replace('%(', '%%(') if '$' in v else v}" for k, v in kept.items())
    path.write_text(
        f"[app:main]\n{app}\n\n"
        f"[server:main]\nuse = egg:pypicloud#main\nlisten = 127.0.0.1:{port}\nthreads = 8\n\n"
        "[loggers]\nkeys = root\n[handlers]\nkeys = console\n[formatters]\nkeys = plain\n"
        "[logger_root]\nlevel = INFO\nhandlers = console\n"
        "[handler_console]\nclass = StreamHandler\nargs = (sys.stderr,)\nformatter = plain\n"
        "[formatter_plain]\nformat = %(levelname)s %(name)s %(message)s\n"  # read raw by logging
    )


def launch(root: Path, extra: dict[str, str | None]) -> tuple[subprocess.Popen, Server]:
    """pserve on a fresh ini in ``root`` (created), once it listens."""
    port = free_port()
    root = root / f"server-{port}"
    root.mkdir()
    ini = root / "server.ini"
    write_ini(ini, port, extra)
    with open(root / "server.log", "wb") as log:
        process = subprocess.Popen(
            [venv_tool("pserve"), str(ini)], stdout=log, stderr=subprocess.STDOUT, cwd=root
        )
    try:
        wait_for_port(port, process)
    except RuntimeError:
        stop_process(process)
        raise RuntimeError((root / "server.log").read_text()) from None
    return process, Server(port, root)


@pytest.fixture
def start_server(tmp_path) -> Iterator[Callable[..., Server]]:
    processes: list[subprocess.Popen] = []

    def start(**extra: str | None) -> Server:
        process, server = launch(tmp_path, extra)
        processes.append(process)
        return server

    yield start
    for process in processes:
        stop_process(process)


@pytest.fixture
def server(start_server) -> Server:
    return start_server()


def pip_install(
    server: Server, target: Path, *args: str, check: bool = True
) -> subprocess.CompletedProcess:
    """The real pip, installing into ``target`` from the server only."""
    return run(
        [
            venv_tool("pip"),
            "install",
            "--no-cache-dir",
            "--target",
            str(target),
            "--index-url",
            server.index(),
            *args,
        ],
        check=check,
    )


def uv_install(
    server: Server, target: Path, *args: str, check: bool = True
) -> subprocess.CompletedProcess:
    """The real uv, installing into ``target`` from the server only."""
    return run(
        [
            venv_tool("uv"),
            "pip",
            "install",
            "--no-cache",
            "--target",
            str(target),
            "--python",
            venv_tool("python"),
            "--index-url",
            server.index(),
            *args,
        ],
        check=check,
    )


def installed(target: Path) -> set[str]:
    return {p.name for p in target.iterdir() if p.name.endswith(".dist-info")}


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a client; on failure show everything it said."""
    env = {
        **os.environ,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "PIP_CONFIG_FILE": os.devnull,
        "UV_NO_CONFIG": "1",
        **kwargs.pop("env", {}),
    }
    for var in (
        "PIP_INDEX_URL",
        "PIP_FIND_LINKS",
        "PIP_EXTRA_INDEX_URL",
        "UV_INDEX_URL",
        "UV_EXTRA_INDEX_URL",
        "TWINE_USERNAME",
        "TWINE_PASSWORD",
        "TWINE_REPOSITORY_URL",
    ):
        env.pop(var, None)
    check = kwargs.pop("check", True)
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result


def twine(server: Server, user: str, password: str, files: list[Path], *extra: str, check=True):
    """The real twine uploading ``files`` to ``server`` as ``user``."""
    return run(
        [
            venv_tool("twine"),
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--repository-url",
            f"{server.url}/simple/",
            "-u",
            user,
            "-p",
            password,
            *extra,
            *map(str, files),
        ],
        check=check,
    )


def twine_with_token(server: Server, token: str, files: list[Path], check: bool = True):
    """The real twine uploading ``files`` with an API token (``__token__``)."""
    return twine(server, "__token__", token, files, check=check)
