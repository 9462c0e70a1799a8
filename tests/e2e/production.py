"""App processes started from the shipped ``production.ini``, as a deployment starts them.

The ini is the shipped one with only what a site must add (users, a listening port,
maybe ``url_prefix``); everything else comes from the environment (``PPC_*``), which is how
production.ini is meant to be filled in.
"""

from __future__ import annotations

import configparser
import os
import secrets
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.functional.conftest import FAST_HASH
from tests.tools import ROOT, free_port, stop_process, venv_tool, wait_for_port

PRODUCTION_INI = ROOT / "production.ini"
SESSION_KEY = secrets.token_hex(32)
USERS = {
    "user.alice": FAST_HASH,
    "user.bob": FAST_HASH,
    "auth.admins": "alice",
    "pypi.default_write": "authenticated",
}


def production_ini(path: Path, *, app: dict[str, str | None], server: dict[str, str]) -> Path:
    """production.ini with ``app`` and ``server`` keys added, replaced or (None) removed."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(PRODUCTION_INI)
    for key, value in app.items():
        if value is None:
            parser.remove_option("app:main", key)
        else:
            parser["app:main"][key] = value
    for key, value in server.items():
        parser["server:main"][key] = value
    with open(path, "w") as handle:
        parser.write(handle)
    return path


class AppProcess:
    """``pserve`` on a production ini, listening on its own port."""

    def __init__(self, root: Path, env: dict[str, str], app: dict[str, str | None],
                 server: dict[str, str] | None = None) -> None:  # fmt: skip
        self.port = free_port()
        self.root = root / f"app-{self.port}"
        self.root.mkdir(parents=True)
        self.ini = production_ini(
            self.root / "production.ini", app={**USERS, **app}, server=server or {}
        )
        self.env = {"PPC_SESSION_VALIDATE_KEY": SESSION_KEY, **env}
        self.log = self.root / "server.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> AppProcess:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("PPC_")}
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [venv_tool("pserve"), str(self.ini), f"port={self.port}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                env={**environ, **self.env},
            )
        try:
            wait_for_port(self.port, self.process, timeout=60)
            self._wait_until_answering()
        except RuntimeError:
            self.stop()
            raise RuntimeError(self.log.read_text()) from None
        return self

    def _wait_until_answering(self, timeout: float = 60) -> None:
        """The socket is bound before the app loads: wait for an answer, or its exit."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError("exited")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health/live", timeout=5)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("no answer")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            stop_process(self.process)

    def kill(self) -> None:
        """As a crash or an OOM kill would: no chance to finish anything."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
