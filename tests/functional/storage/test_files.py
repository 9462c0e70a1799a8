"""File storage specifics on the real file system (the contract is in test_contract.py)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pypicloud.models import Package
from pypicloud.storage import PackageNotStored
from pypicloud.storage.files import INCOMING, FileStorage
from pypicloud.storage.temporaries import temporary_name

HOUR = 3600
DAY = 24 * HOUR

# A server process in the middle of an upload whose client never stops sending.
UPLOADER = """
import sys, time
from pypicloud.models import Package
from pypicloud.storage.files import FileStorage

class Endless:
    def read(self, size=-1):
        time.sleep(0.01)
        return b"x" * 4096

FileStorage(sys.argv[1]).upload(Package("mypkg", "1.0", sys.argv[2]), Endless())
"""


def start_upload(root: Path, filename: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", UPLOADER, str(root), filename])


def wait_for_temporary(root: Path, process: subprocess.Popen, timeout: float = 30) -> Path:
    """The temporary ``process`` is writing, once it holds some bytes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the uploader ended early"
        for path in (root / INCOMING).glob(f"*.{process.pid}.*"):
            if path.stat().st_size > 0:
                return path
        time.sleep(0.05)
    raise AssertionError("no temporary appeared")


def hidden_entries(directory: Path) -> list[str]:
    if not directory.exists():
        return []
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def aged(path: Path, seconds: float, content: bytes = b"partial") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "packages"


def test_a_killed_upload_leaves_nothing_beside_the_packages(root):
    FileStorage(root)
    doomed = start_upload(root, "mypkg-1.0.tar.gz")
    alive = start_upload(root, "mypkg-1.0-py3-none-any.whl")
    try:
        doomed_temp = wait_for_temporary(root, doomed)
        alive_temp = wait_for_temporary(root, alive)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()  # reaped, so its pid no longer exists
        # The half-written file was never in the version directory, nor listed.
        assert hidden_entries(root / "mypkg" / "1.0") == []
        assert doomed_temp.exists()

        storage = FileStorage(root)  # a restarted server
        assert not doomed_temp.exists()
        assert alive_temp.exists()  # a live process's upload is left alone
        assert list(storage.list()) == []

        alive.send_signal(signal.SIGKILL)
        alive.wait()
        assert list(storage.list()) == []  # the rebuild's listing tidies too
        assert not alive_temp.exists()
        assert sorted(os.listdir(root / INCOMING)) == []
    finally:
        for process in (doomed, alive):
            if process.poll() is None:
                process.kill()
                process.wait()


def test_other_hosts_temporaries_go_after_a_day(root):
    incoming = root / INCOMING
    stale = aged(incoming / temporary_name("other-host", 123), DAY + HOUR)
    fresh = aged(incoming / temporary_name("other-host", 123), HOUR)
    stranger = aged(incoming / "not-one-of-ours", DAY + HOUR)
    storage = FileStorage(root)
    assert (stale.exists(), fresh.exists(), stranger.exists()) == (False, True, False)
    aged(fresh, DAY + 1)
    list(storage.list())
    assert not fresh.exists()


def test_original_leftovers_in_version_directories_go_after_an_hour(root):
    storage = FileStorage(root)
    storage.upload(Package("mypkg", "1.0", "mypkg-1.0.tar.gz"), io.BytesIO(b"real"))
    version_dir = root / "mypkg" / "1.0"
    old_meta = aged(version_dir / ".metadata.3f9a01bc", 2 * HOUR)
    old_file = aged(version_dir / ".mypkg-1.0.tar.gz.3f9a01bc", 2 * HOUR)
    young = aged(version_dir / ".metadata.77aa", 10 * 60)  # an original server may be writing
    other = aged(version_dir / ".keep", 2 * DAY)  # not a temporary's name
    [listed] = storage.list()
    assert listed.filename == "mypkg-1.0.tar.gz"
    assert not old_meta.exists() and not old_file.exists()
    assert young.exists() and other.exists()


def test_uploads_write_no_temporaries_beside_the_packages(root, monkeypatch):
    storage = FileStorage(root)
    seen: list[list[str]] = []
    real_replace = os.replace

    def spying_replace(src, dst):
        seen.append(hidden_entries(root / "mypkg" / "1.0"))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spying_replace)
    storage.upload(Package("mypkg", "1.0", "mypkg-1.0.tar.gz"), io.BytesIO(b"x"), overwrite=True)
    storage.update_metadata(Package("mypkg", "1.0", "mypkg-1.0.tar.gz", summary="s"))
    assert seen and all(entries == [] for entries in seen)
    assert os.listdir(root / INCOMING) == []


def test_upload_recreates_directories_a_concurrent_delete_removed(root, monkeypatch):
    storage = FileStorage(root)
    first = Package("mypkg", "1.0", "mypkg-1.0.tar.gz")
    storage.upload(first, io.BytesIO(b"a"))
    real_link, calls = os.link, []

    def link_after_a_delete(src, dst):
        calls.append(dst)
        if len(calls) == 1:
            storage.delete(first)  # removes the now-empty version and project directories
        return real_link(src, dst)

    monkeypatch.setattr(os, "link", link_after_a_delete)
    wheel = Package("mypkg", "1.0", "mypkg-1.0-py3-none-any.whl")
    storage.upload(wheel, io.BytesIO(b"b"))
    assert len(calls) == 2
    assert [p.filename for p in storage.list()] == [wheel.filename]


def test_start_up_writes_nothing_so_a_read_only_directory_still_serves(root):
    FileStorage(root).upload(Package("mypkg", "1.0", "mypkg-1.0.tar.gz"), io.BytesIO(b"x"))
    (root / INCOMING).rmdir()
    storage = FileStorage(root)
    assert [p.filename for p in storage.list()] == ["mypkg-1.0.tar.gz"]
    assert not (root / INCOMING).exists()


def test_read_small_reads_whole_files_up_to_the_limit(root):
    storage = FileStorage(root)
    small, big = Package("mypkg", "1.0", "mypkg-1.0.tar.gz"), Package("mypkg", "2.0", "m.whl")
    storage.upload(small, io.BytesIO(b"abc" * 100))
    storage.upload(big, io.BytesIO(b"x" * 5000))
    assert storage.read_small(small, 300) == b"abc" * 100
    assert storage.read_small(big, 4999) is None  # the caller streams it instead
    assert storage.read_small(big, 5000) == b"x" * 5000
    with pytest.raises(PackageNotStored):
        storage.read_small(Package("mypkg", "3.0", "gone.tar.gz"), 300)
    storage.delete(small)
    with pytest.raises(PackageNotStored):  # a remembered path is no remembered file
        storage.read_small(small, 300)


def test_remembered_paths_still_refuse_escapes(root):
    storage = FileStorage(root)
    for _ in range(2):
        with pytest.raises(ValueError):
            storage.path_for(Package("mypkg", "..", "x.tar.gz"))
    assert storage.path_for(Package("mypkg", "1.0", "a.tar.gz")) == storage.path_for(
        Package("mypkg", "1.0", "a.tar.gz")
    )
