"""ppc-retention on an ini file: the dry run's listing, the real run, --project, --json."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from tests.dists import wheel_name
from tests.functional.scripts.test_reload import put, summaries

RULES = "\n    legacy-*\n    * keep=3 prerelease_age=30d"
DAY = 86400


def aged(path: Path, days: float) -> None:
    """Upload time is the file's mtime in file storage."""
    when = time.time() - days * DAY
    os.utime(path, (when, when))


def fill(ini: Path) -> None:
    storage = ini.parent / "packages"
    for version, days in (("1.0", 300), ("1.1", 200), ("2.0b1", 40), ("2.0rc1", 10), ("2.0", 5)):
        aged(put(storage, "alpha", version, f"alpha {version}"), days)
    for version in ("1.0", "2.0", "3.0", "4.0"):
        put(storage, "legacy-tool", version, "old")
        put(storage, "beta", version, "b")


def test_dry_run_lists_then_the_real_run_deletes(ppc, make_ini):
    ini = make_ini(**{"pypi.retention": RULES})
    fill(ini)
    assert ppc("reload", ini).returncode == 0
    before = summaries(ini)
    assert len(before) == 13
    dry = ppc("retention", ini, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        f"alpha 2.0b1: {wheel_name('alpha', '2.0b1')} "
        "[pre-release older than 30d (rule '* keep=3 prerelease_age=30d')]",
        f"alpha 1.1: {wheel_name('alpha', '1.1')} [beyond the newest 3 (rule '* keep=3 "
        "prerelease_age=30d')]",
        f"alpha 1.0: {wheel_name('alpha', '1.0')} [beyond the newest 3 (rule '* keep=3 "
        "prerelease_age=30d')]",
        f"beta 1.0: {wheel_name('beta', '1.0')} [beyond the newest 3 (rule '* keep=3 "
        "prerelease_age=30d')]",
    ]
    assert dry.stderr.strip().splitlines()[-1] == "would delete 4 files of 4 releases"
    assert summaries(ini) == before
    assert (ini.parent / "packages" / "alpha" / "1.0" / wheel_name("alpha", "1.0")).exists()

    real = ppc("retention", ini)
    assert real.returncode == 0, real.stderr
    assert real.stdout.splitlines() == dry.stdout.splitlines()
    assert real.stderr.strip().splitlines()[-1] == "deleted 4 files of 4 releases"
    left = {wheel_name("alpha", "2.0"), wheel_name("alpha", "2.0rc1")}
    left |= {wheel_name(n, v) for n in ("beta", "legacy-tool") for v in ("2.0", "3.0", "4.0")}
    left.add(wheel_name("legacy-tool", "1.0"))  # exempt
    assert set(summaries(ini)) == left
    on_disk = {p.name for p in (ini.parent / "packages").rglob("*.whl")}
    assert on_disk == left

    again = ppc("retention", ini, "--dry-run")
    assert again.stdout == "" and "would delete 0 files" in again.stderr


def test_one_project_as_json(ppc, make_ini):
    ini = make_ini(**{"pypi.retention": RULES})
    fill(ini)
    result = ppc("retention", ini, "--dry-run", "--project", "Beta", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "dry_run": True,
        "releases": [
            {
                "project": "beta",
                "version": "1.0",
                "files": [wheel_name("beta", "1.0")],
                "reason": "beyond the newest 3",
                "rule": "* keep=3 prerelease_age=30d",
            }
        ],
    }


def test_no_rule_and_bad_rules_are_one_line(ppc, make_ini):
    result = ppc("retention", make_ini("norules"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: pypi.retention has no rule: nothing to do"
    )
    result = ppc("retention", make_ini("bad", **{"pypi.retention": "* keep=lots"}), "--dry-run")
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: pypicloud cannot start: setting 'pypi.retention': line 1:")


def test_help_names_the_options(ppc):
    result = ppc("retention", "--help")
    assert result.returncode == 0
    assert all(flag in result.stdout for flag in ("--dry-run", "--project", "--json"))


def test_a_command_runs_no_scheduled_task(make_ini):
    from pypicloud.scripts.common import load_services

    ini = make_ini(**{"pypi.retention": RULES, "pypi.retention_interval": "1h"})
    schedule = load_services(str(ini)).retention_schedule
    assert schedule is not None and schedule._thread is None
