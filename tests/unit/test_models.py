from __future__ import annotations

import datetime as dt

from pypicloud.models import Package


def test_name_is_normalized_and_time_is_utc():
    package = Package("Foo_Bar", "1.0", "foo_bar-1.0.tar.gz", last_modified=dt.datetime(2020, 1, 1))
    assert package.name == "foo-bar"
    assert package.last_modified.tzinfo is dt.UTC


def test_stored_metadata_round_trip():
    package = Package(
        "p",
        "1",
        "p-1.tar.gz",
        summary="s",
        data={"hash_sha256": "a", "yanked": True, "yanked_reason": "r", "size": 3, "uploader": ""},
    )
    meta = package.stored_metadata()
    assert meta == {
        "summary": "s",
        "hash_sha256": "a",
        "yanked": "true",
        "yanked_reason": "r",
        "size": "3",
    }
    back = Package.from_stored_metadata("p", "1", "p-1.tar.gz", package.last_modified, meta)
    assert back.yanked == "r" and back.size == 3 and back.sha256 == "a"


def test_original_dash_spelling_is_read():
    back = Package.from_stored_metadata(
        "p",
        "1",
        "p-1.tar.gz",
        dt.datetime.now(dt.UTC),
        {"hash-sha256": "abc", "requires-python": ">=3"},
    )
    assert back.sha256 == "abc" and back.requires_python == ">=3"


def test_keep_mark_round_trip():
    package = Package("p", "1", "p-1.tar.gz", data={"keep": True})
    assert package.kept is True
    meta = package.stored_metadata()
    assert meta == {"keep": "true"}
    back = Package.from_stored_metadata("p", "1", "p-1.tar.gz", package.last_modified, meta)
    assert back.kept is True and back.data == {"keep": True}
    unmarked = Package.from_stored_metadata("p", "1", "p-1.tar.gz", package.last_modified, {})
    assert unmarked.kept is False and "keep" not in unmarked.stored_metadata()
