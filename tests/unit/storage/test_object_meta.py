"""Index facts as object metadata: ASCII-safe, lossless, and readable from the original."""

from __future__ import annotations

import datetime as dt

import pytest

from pypicloud.models import Package
from pypicloud.storage.object_meta import (
    decode_metadata,
    decode_value,
    encode_metadata,
    encode_value,
)

WHEN = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def package(**data) -> Package:
    facts = {"hash_sha256": "ab" * 32, "hash_md5": "cd" * 16, "uploader": "alice", "size": 5}
    facts.update(data)
    return Package("My_Pkg", "1.0", "my_pkg-1.0.tar.gz", summary="A summary", data=facts)


def test_layout_is_the_originals():
    meta = encode_metadata(package(requires_python=">=3.8"))
    assert meta == {
        "name": "my-pkg",
        "version": "1.0",
        "summary": "A summary",
        "requires-python": ">=3.8",
        "hash-sha256": "ab" * 32,
        "hash-md5": "cd" * 16,
        "uploader": "alice",
        "size": "5",
    }


def test_separator_for_stores_that_need_identifiers():
    assert "hash_sha256" in encode_metadata(package(), sep="_")


@pytest.mark.parametrize(
    "value",
    [
        "Ünïcode — summary ✓",
        "line one\nline two",
        " padded ",
        "two  spaces",
        "=?utf-8?b?QQ==?=",  # looks encoded: must be encoded itself to stay unambiguous
        "tab\there",
        "日本語",
    ],
)
def test_unsafe_values_are_encoded_reversibly(value):
    encoded = encode_value(value)
    assert encoded.isascii() and encoded.isprintable()
    assert decode_value(encoded) == value


def test_plain_ascii_is_kept_byte_for_byte():
    for value in ("A summary", ">=3.8, <4", "alice@example.com", "a=?b"):
        assert encode_value(value) == value
        assert decode_value(value) == value


def test_s3_style_encoded_words_are_read():
    assert decode_value("=?UTF-8?Q?caf=C3=A9?=") == "café"
    assert decode_value("=?UTF-8?B?Y2Fmw6k=?=") == "café"


def test_round_trip_keeps_every_fact():
    original = package(requires_python=">=3.8", yanked=True, yanked_reason="brøken")
    original.summary = "Ünïcode ✓"
    back = decode_metadata(encode_metadata(original), original.filename, WHEN)
    assert back is not None
    assert (back.name, back.version, back.summary) == ("my-pkg", "1.0", "Ünïcode ✓")
    assert back.data == original.data
    assert back.last_modified == WHEN


def test_upload_time_survives_a_metadata_rewrite():
    original = package()
    original.last_modified = WHEN
    meta = encode_metadata(original, upload_time=True)
    later = WHEN + dt.timedelta(days=3)
    back = decode_metadata(meta, original.filename, later)
    assert back is not None and back.last_modified == WHEN
    assert "upload_time" not in back.data


def test_original_metadata_with_either_spelling():
    meta = {
        "Name": "My_Pkg",
        "version": "1.0",
        "summary": "Plain",
        "requires_python": ">=3.6",
        "hash-sha256": "ab" * 32,
    }
    back = decode_metadata(meta, "My_Pkg-1.0.tar.gz", WHEN, size=12)
    assert back is not None
    assert back.name == "my-pkg"
    assert back.requires_python == ">=3.6"
    assert back.sha256 == "ab" * 32
    assert back.size == 12


def test_objects_without_metadata_parse_the_filename():
    back = decode_metadata({}, "Foo_Bar-2.0-py3-none-any.whl", WHEN)
    assert back is not None and (back.name, back.version) == ("foo-bar", "2.0")


@pytest.mark.parametrize("filename", ["foo-1.0.tar.gz.meta", "README.txt", "notes"])
def test_non_packages_are_none(filename):
    assert decode_metadata({}, filename, WHEN) is None


@pytest.mark.parametrize("summary", ["日本語" * 200, "a" * 3000, "Ünïcode ✓ " * 100])
def test_free_text_is_shortened_to_fit_a_size_limit(summary):
    original = package(yanked=True, yanked_reason="é" * 600)
    original.summary = summary
    meta = encode_metadata(original, max_bytes=2048)
    assert sum(len(k.encode()) + len(v.encode()) for k, v in meta.items()) <= 2048
    back = decode_metadata(meta, original.filename, WHEN)
    assert back is not None and back.sha256 == original.sha256
    assert back.summary and back.summary.endswith("…")
    assert summary.startswith(back.summary[:-1].rstrip())
    assert "yanked_reason" not in back.data  # the reason went first
    assert back.yanked == ""  # still yanked


def test_metadata_that_fits_is_untouched():
    original = package()
    assert encode_metadata(original, max_bytes=2048) == encode_metadata(original)
