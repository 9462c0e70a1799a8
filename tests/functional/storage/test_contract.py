"""The storage contract, run over every backend against its real service or emulator.

A backend plugs in by providing a fixture named ``<id>_storage`` that returns an empty,
freshly built Storage (see tests/fixtures/).
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import threading

import pytest

from pypicloud.models import Package
from pypicloud.storage import FileExists, PackageNotStored, Storage

BACKENDS = ["file", "s3", "gcs", "azure"]


@pytest.fixture(params=BACKENDS)
def storage(request) -> Storage:
    return request.getfixturevalue(f"{request.param}_storage")


def make_package(filename: str = "mypkg-1.0-py3-none-any.whl", **data) -> Package:
    facts = {"hash_sha256": "ab" * 32, "hash_md5": "cd" * 16, "uploader": "alice", "size": 5}
    facts.update(data)
    return Package("MyPkg", "1.0", filename, summary="A summary", data=facts)


def read_all(storage: Storage, package: Package) -> bytes:
    with storage.open(package) as handle:
        return handle.read()


def test_satisfies_protocol(storage):
    assert isinstance(storage, Storage)


def test_upload_then_list_round_trips_the_facts(storage):
    package = make_package(requires_python=">=3.8", core_metadata_sha256="ef" * 32)
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    storage.upload(package, io.BytesIO(b"hello"))
    [listed] = list(storage.list())
    assert (listed.name, listed.version, listed.filename) == ("mypkg", "1.0", package.filename)
    assert listed.summary == "A summary"
    assert listed.sha256 == "ab" * 32
    assert listed.md5 == "cd" * 16
    assert listed.requires_python == ">=3.8"
    assert listed.data["uploader"] == "alice"
    assert listed.core_metadata_sha256 == "ef" * 32
    assert listed.size == 5
    assert listed.yanked is False
    assert listed.last_modified >= before
    assert read_all(storage, listed) == b"hello"


@pytest.mark.parametrize("overwrite", [False, True], ids=["new", "overwrite"])
def test_upload_returns_the_time_list_reports(storage, overwrite):
    if overwrite:
        storage.upload(make_package(), io.BytesIO(b"first"))
    # An old time in the argument: the returned one must be the store's, not a copy of it.
    package = make_package()
    package.last_modified = dt.datetime(2001, 2, 3, tzinfo=dt.UTC)
    stored = storage.upload(package, io.BytesIO(b"hello"), overwrite=overwrite)
    [listed] = storage.list()
    assert stored.last_modified == listed.last_modified
    assert stored.last_modified.year > 2001
    assert (stored.filename, stored.summary, stored.data) == (
        package.filename,
        package.summary,
        package.data,
    )


def test_upload_leaves_its_argument_unchanged(storage):
    package = make_package()
    before = copy.deepcopy(package)
    stored = storage.upload(package, io.BytesIO(b"hello"))
    assert package == before
    assert stored is not package and stored.data is not package.data
    stored.data["yanked"] = True  # the caller may change what it got back...
    assert package == before  # ...without touching what it passed in


def test_non_ascii_summary_survives(storage):
    package = make_package(summary="Ünïcode — summary ✓")
    package.summary = "Ünïcode — summary ✓"
    storage.upload(package, io.BytesIO(b"x"))
    [listed] = list(storage.list())
    assert listed.summary  # backends limited to ASCII may fold it, but never drop the file


def test_second_upload_of_a_filename_is_refused(storage):
    storage.upload(make_package(), io.BytesIO(b"first"))
    with pytest.raises(FileExists):
        storage.upload(make_package(), io.BytesIO(b"second"))
    assert read_all(storage, make_package()) == b"first"


def test_overwrite_replaces_the_bytes(storage):
    storage.upload(make_package(), io.BytesIO(b"first"))
    storage.upload(make_package(), io.BytesIO(b"second"), overwrite=True)
    assert read_all(storage, make_package()) == b"second"
    assert len(list(storage.list())) == 1


def test_concurrent_uploads_leave_exactly_one(storage):
    results: list[str] = []
    barrier = threading.Barrier(4)

    def race(index: int) -> None:
        barrier.wait()
        try:
            storage.upload(make_package(), io.BytesIO(f"body-{index}".encode()))
            results.append(f"won-{index}")
        except FileExists:
            results.append("lost")

    threads = [threading.Thread(target=race, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [r for r in results if r.startswith("won")]
    assert len(winners) == 1, results
    assert read_all(storage, make_package()) == f"body-{winners[0][4:]}".encode()
    assert len(list(storage.list())) == 1


def test_update_metadata_records_a_yank(storage):
    package = storage.upload(make_package(), io.BytesIO(b"x"))
    package.data.update(yanked=True, yanked_reason="broken build")
    storage.update_metadata(package)
    [listed] = list(storage.list())
    assert listed.yanked == "broken build"
    assert listed.sha256 == "ab" * 32
    assert read_all(storage, listed) == b"x"


def test_unyank_removes_the_reason_and_the_upload_time_stays(storage):
    package = storage.upload(make_package(), io.BytesIO(b"x"))
    [before] = storage.list()
    package.data.update(yanked=True, yanked_reason="broken")
    storage.update_metadata(package)
    [yanked] = storage.list()
    assert yanked.last_modified == before.last_modified
    package.data.update(yanked=False, yanked_reason="")
    storage.update_metadata(package)
    [unyanked] = storage.list()
    assert unyanked.yanked is False
    assert "yanked_reason" not in unyanked.data
    assert unyanked.sha256 == "ab" * 32
    assert unyanked.last_modified == before.last_modified


def test_a_keep_mark_travels_with_the_file_and_the_upload_time_stays(storage):
    """Retention ages count from the upload time: marking a release must not reset it."""
    package = storage.upload(make_package(), io.BytesIO(b"x"))
    [before] = storage.list()
    package.data.update(keep=True)
    storage.update_metadata(package)
    [marked] = storage.list()
    assert marked.kept is True and marked.last_modified == before.last_modified
    del package.data["keep"]
    storage.update_metadata(package)
    [cleared] = storage.list()
    assert cleared.kept is False and "keep" not in cleared.data
    assert cleared.last_modified == before.last_modified


def test_update_metadata_of_a_missing_file_raises(storage):
    with pytest.raises(PackageNotStored):
        storage.update_metadata(make_package())


def test_delete_removes_file_and_facts(storage):
    package = make_package()
    storage.upload(package, io.BytesIO(b"x"))
    storage.upload(make_package("mypkg-1.0.tar.gz"), io.BytesIO(b"y"))
    storage.delete(package)
    assert [p.filename for p in storage.list()] == ["mypkg-1.0.tar.gz"]
    with pytest.raises(PackageNotStored):
        read_all(storage, package)
    storage.delete(package)  # deleting twice is not an error


def test_open_missing_raises(storage):
    with pytest.raises(PackageNotStored):
        read_all(storage, make_package())


def test_large_file_streams(storage):
    body = bytes(range(256)) * 40_000  # 10 MB, more than one multipart chunk
    storage.upload(make_package(), io.BytesIO(body))
    assert read_all(storage, make_package()) == body


def test_health(storage):
    healthy, message = storage.check_health()
    assert healthy, message
