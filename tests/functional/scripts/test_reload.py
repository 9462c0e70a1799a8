"""ppc-reload: the package database follows what storage holds, without a server."""

from __future__ import annotations

import json
from pathlib import Path

from pypicloud.cache import cache_from_settings
from pypicloud.settings import Settings
from tests.dists import wheel_bytes, wheel_name


def put(storage: Path, name: str, version: str, summary: str) -> Path:
    """A file in the original's file layout, with its ``.meta`` sidecar."""
    path = storage / name / version / wheel_name(name, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(wheel_bytes(name, version))
    Path(f"{path}.meta").write_text(json.dumps({"summary": summary}))
    return path


def summaries(ini: Path) -> dict[str, str | None]:
    base = ini.parent
    cache = cache_from_settings(
        Settings({"pypi.db": "sql", "db.url": f"sqlite:///{base / 'db.sqlite'}"}, environ={})
    )
    return {p.filename: p.summary for p in cache.all_packages()}


def test_reload_follows_storage(ppc, make_ini):
    ini = make_ini()
    storage = ini.parent / "packages"
    first = put(storage, "alpha", "1.0", "first")
    result = ppc("reload", ini)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "reloaded 1 files of 1 projects from storage"

    put(storage, "beta", "2.0", "second")
    first.unlink()
    Path(f"{first}.meta").unlink()
    result = ppc("reload", ini)
    assert result.stderr.strip().splitlines()[-1] == "reloaded 1 files of 1 projects from storage"
    assert summaries(ini) == {wheel_name("beta", "2.0"): "second"}


def test_clear_rebuilds_the_same_records(ppc, make_ini):
    ini = make_ini()
    put(ini.parent / "packages", "alpha", "1.0", "first")
    put(ini.parent / "packages", "alpha", "1.1", "newer")
    assert ppc("reload", ini).returncode == 0
    before = summaries(ini)
    result = ppc("reload", ini, "--clear")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "reloaded 2 files of 1 projects from storage"
    assert (
        summaries(ini)
        == before
        == {
            wheel_name("alpha", "1.0"): "first",
            wheel_name("alpha", "1.1"): "newer",
        }
    )


def test_a_missing_ini_file_is_one_line(ppc, tmp_path):
    result = ppc("reload", tmp_path / "nope.ini")
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {tmp_path / 'nope.ini'}: no such file"


def test_help_says_what_clear_does(ppc):
    result = ppc("reload", "--help")
    assert result.returncode == 0 and "--clear" in result.stdout
