"""Retention over a real package database and file storage: dry run, real run, keep marks,
the audit log, checked file by file in the storage directory and in the database."""

from __future__ import annotations

import json

import pytest

from pypicloud.audit import AuditQuery
from pypicloud.rebuild import RebuildBusy
from pypicloud.retention.runner import RetentionBusy
from tests.functional.conftest import auth
from tests.functional.retention.conftest import release, stored_paths


@pytest.fixture
def populated(deploy):
    """proj with six releases (1.5 marked to keep), an exempt project and an unruled one."""
    d = deploy()
    files = {
        v: release(d.app, "proj", v, sdist=v in ("1.0", "2.0"))
        for v in ("1.0", "1.1", "1.5", "2.0.dev1", "2.0a1", "2.0")
    }
    files["exempt"] = release(d.app, "exempt-lib", "0.1")
    files["exempt-new"] = release(d.app, "exempt-lib", "0.2")
    files["other"] = release(d.app, "other", "0.1")
    files["other-new"] = release(d.app, "other", "0.2")
    d.app.put("/api/package/proj/1.5/keep", headers=auth("bob"))
    d.move_clock(days=40)
    return d, files


#: The releases a real run leaves: (project, version, key in ``populated``'s files).
LEFT = [
    ("proj", "1.5", "1.5"),  # marked to keep
    ("proj", "2.0", "2.0"),  # the newest
    ("exempt-lib", "0.1", "exempt"),
    ("exempt-lib", "0.2", "exempt-new"),
    ("other", "0.1", "other"),  # no rule matches
    ("other", "0.2", "other-new"),
]


def test_dry_run_lists_and_changes_nothing_then_the_real_run_deletes(populated):
    d, files = populated
    before_storage, before_index = d.stored(), d.indexed()
    runner = d.services.retention
    dry = runner.run(dry_run=True)
    assert [(r.project, r.version, r.reason) for r in dry.removals] == [
        ("proj", "2.0a1", "pre-release older than 30d"),
        ("proj", "2.0.dev1", "dev release older than 7d"),
        ("proj", "1.1", "beyond the newest 3"),
        ("proj", "1.0", "beyond the newest 3"),
    ]
    assert sorted(p.filename for p in dry.removals[3].files) == sorted(files["1.0"])
    assert d.stored() == before_storage and d.indexed() == before_index
    assert not [e for e in d.services.audit.query(AuditQuery()) if e.action == "delete"]

    done = runner.run()
    assert [r.version for r in done.removals] == ["2.0a1", "2.0.dev1", "1.1", "1.0"]
    assert d.stored() == set().union(*(stored_paths(n, v, files[k]) for n, v, k in LEFT))
    assert d.indexed() == {f for _, _, k in LEFT for f in files[k]}
    gone = {f for v in ("1.0", "1.1", "2.0.dev1", "2.0a1") for f in files[v]}
    assert not (d.storage / "proj" / "1.0").exists()  # an emptied version directory goes
    listed = d.app.get("/api/package/proj/", headers=auth("bob")).json["packages"]
    assert {p["version"] for p in listed} == {"1.5", "2.0"}

    deletes = [e for e in d.services.audit.query(AuditQuery(limit=1000)) if e.action == "delete"]
    assert sorted(e.target for e in deletes) == sorted(gone)
    assert {e.actor for e in deletes} == {"retention"}
    [why] = {e.detail for e in deletes if e.target in files["1.0"]}
    assert (
        why == "retention: beyond the newest 3 (rule 'proj keep=3 prerelease_age=30d dev_age=7d')"
    )

    assert runner.run().removals == []  # nothing left to do


def test_only_the_named_project(populated):
    d, _ = populated
    runner = d.services.retention
    assert runner.run(dry_run=True, project="other").removals == []
    assert {r.project for r in runner.run(dry_run=True, project="Proj").removals} == {"proj"}


def test_keep_marks_travel_with_the_files_and_survive_a_rebuild(populated):
    d, files = populated
    [wheel] = files["1.5"]
    meta = json.loads((d.storage / "proj" / "1.5" / f"{wheel}.meta").read_text())
    assert meta["keep"] == "true"
    d.services.cache.clear_all()
    assert d.services.packages.reload_from_storage() > 0
    assert d.services.cache.fetch(wheel).kept is True
    shown = d.app.get("/api/package/proj/1.5/", headers=auth("bob")).json["packages"]
    assert [p["keep"] for p in shown] == [True]
    d.services.retention.run()
    assert d.services.cache.fetch(wheel) is not None
    assert f"proj/1.5/{wheel}" in d.stored()

    d.app.delete("/api/package/proj/1.5/keep", headers=auth("bob"))
    assert "keep" not in json.loads((d.storage / "proj" / "1.5" / f"{wheel}.meta").read_text())
    d.services.cache.clear_all()
    d.services.packages.reload_from_storage()
    assert d.services.cache.fetch(wheel).kept is False
    for version in ("3.0", "4.0"):  # 1.5 is now beyond the newest 3
        release(d.app, "proj", version)
    [removal] = d.services.retention.run().removals
    assert removal.version == "1.5" and f"proj/1.5/{wheel}" not in d.stored()


def test_a_mark_set_after_the_plan_is_respected(populated):
    d, files = populated
    runner = d.services.retention
    planned = runner.plan()
    d.app.put("/api/package/proj/1.1/keep", headers=auth("bob"))
    assert [r.version for r in planned if runner._apply(r)] == ["2.0a1", "2.0.dev1", "1.0"]
    assert d.services.cache.fetch(files["1.1"][0]) is not None


def test_no_run_while_another_holds_the_lock_or_a_rebuild_runs(populated):
    d, _ = populated
    cache, runner = d.services.cache, d.services.retention
    before = d.stored()
    assert cache.try_lock("retention", "another-process", 60)
    with pytest.raises(RetentionBusy, match="another process is applying retention"):
        runner.run()
    cache.unlock("retention", "another-process")
    assert cache.try_lock("rebuild", "a-rebuilding-process", 60)
    with pytest.raises(RetentionBusy, match="being rebuilt"):
        runner.run()
    assert (
        cache.try_lock("retention", "someone", 1) and cache.unlock("retention", "someone") is None
    )
    cache.unlock("rebuild", "a-rebuilding-process")
    assert d.stored() == before


def test_a_rebuild_waits_for_a_real_run(populated):
    d, _ = populated
    runner = d.services.retention
    with runner._locked(), pytest.raises(RebuildBusy):
        d.services.packages.reload_from_storage()
    assert d.services.packages.reload_from_storage() > 0  # both locks are released
