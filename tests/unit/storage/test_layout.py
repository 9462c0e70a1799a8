"""Object keys and content types, shared by every object store."""

from __future__ import annotations

import hashlib

import pytest

from pypicloud.storage.layout import content_type_for, object_key

FILENAME = "mypkg-1.0-py3-none-any.whl"
HASH4 = hashlib.md5(FILENAME.encode()).hexdigest()[:4]


def test_key_has_the_hash_directory_by_default():
    assert object_key("mypkg", FILENAME) == f"{HASH4}/mypkg/{FILENAME}"


def test_prefix_is_prepended_verbatim():
    assert object_key("mypkg", FILENAME, prefix="pkgs-") == f"pkgs-{HASH4}/mypkg/{FILENAME}"
    assert object_key("mypkg", FILENAME, prefix="a/b/") == f"a/b/{HASH4}/mypkg/{FILENAME}"


def test_key_without_the_hash_directory():
    assert object_key("mypkg", FILENAME, prefix="p/", prepend_hash=False) == f"p/mypkg/{FILENAME}"


def test_hash_directory_is_a_fixed_value():
    # Written out, so a change of hash function or slice cannot pass unnoticed.
    assert object_key("x", "x-1.0.tar.gz") == "cc91/x/x-1.0.tar.gz"


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [
        ("mypkg-1.0-py3-none-any.whl", "application/zip"),
        ("mypkg-1.0.zip", "application/zip"),
        ("mypkg-1.0.tar.gz", "application/gzip"),
        ("mypkg-1.0.tgz", "application/gzip"),
        ("mypkg-1.0.tar.bz2", "application/x-bzip2"),
        ("mypkg-1.0.egg", "application/octet-stream"),
        ("mypkg-1.0.whl.metadata", "application/octet-stream"),
    ],
)
def test_content_type_for(filename, content_type):
    assert content_type_for(filename) == content_type
