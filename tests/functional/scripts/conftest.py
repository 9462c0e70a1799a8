"""Run the ``ppc-*`` commands as a user does: the installed entry points, on ini files."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.tools import venv_tool

IniWriter = Callable[..., Path]
Runner = Callable[..., subprocess.CompletedProcess]


def write_ini(path: Path, settings: Mapping[str, Any]) -> Path:
    lines = ["[app:main]", "use = egg:pypicloud"]
    lines += [f"{key} = {str(value).replace('%', '%%')}" for key, value in settings.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def make_ini(tmp_path) -> IniWriter:
    """An ini file with file storage and a SQLite package database of its own, plus ``extra``."""

    def make(name: str = "server", **extra: Any) -> Path:
        base = tmp_path / name
        base.mkdir(exist_ok=True)
        settings = {
            "pypi.storage": "file",
            "storage.dir": base / "packages",
            "pypi.db": "sql",
            "db.url": f"sqlite:///{base / 'db.sqlite'}",
        }
        settings.update(extra.pop("settings", {}))
        settings.update(extra)
        if settings["pypi.storage"] != "file":
            del settings["storage.dir"]
        return write_ini(base / "config.ini", settings)

    return make


@pytest.fixture
def ppc(tmp_path) -> Runner:
    """Run ``ppc-<command>`` with arguments; bytes in and out unless ``text`` is given."""

    def run(command: str, *args: Any, input: Any = None, text: bool = True, **kw: Any):
        return subprocess.run(
            [venv_tool(f"ppc-{command}"), *map(str, args)],
            input=input,
            capture_output=True,
            text=text,
            timeout=120,
            cwd=tmp_path,
            **kw,
        )

    return run
