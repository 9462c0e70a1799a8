from __future__ import annotations

import io
import tarfile

import pytest

from pypicloud.dists import (
    InvalidDistribution,
    is_valid_project_name,
    parse_core_metadata,
    parse_filename,
    read_core_metadata,
    safe_path_component,
)
from tests.dists import metadata_text, sdist_bytes, wheel_bytes


@pytest.mark.parametrize(
    ("filename", "name", "version", "kind"),
    [
        ("Foo_Bar-1.0-py3-none-any.whl", "foo-bar", "1.0", "bdist_wheel"),
        ("foo_bar-1.0-1-py3-none-any.whl", "foo-bar", "1.0", "bdist_wheel"),
        ("foo_bar-2.0rc1.tar.gz", "foo-bar", "2.0rc1", "sdist"),
        ("foo-bar-2.0.zip", "foo-bar", "2.0", "sdist"),
        ("foo-bar-baz-2.0.tar.gz", "foo-bar-baz", "2.0", "sdist"),
    ],
)
def test_parse_filename(filename, name, version, kind):
    parsed = parse_filename(filename)
    assert (parsed.name, parsed.version, parsed.kind) == (name, version, kind)


@pytest.mark.parametrize(
    "filename",
    [
        "foo.exe",
        "foo-1.0-py3.whl",
        "../foo-1.0.tar.gz",
        "foo/bar-1.0.tar.gz",
        "foo-notaversion!.tar.gz",
        ".foo-1.0.tar.gz",
        "foo-1.0\0.tar.gz",
        "foo-1.0.tar.gz\n",
        'foo-1.0-py3-none-any"x.whl',
        "foo-1.0-py3-none-any;rm.whl",
        "föö-1.0.tar.gz",
    ],
)
def test_bad_filenames(filename):
    with pytest.raises(InvalidDistribution):
        parse_filename(filename)


@pytest.mark.parametrize("part", ["..", ".", "", "a/b", "a\\b", "a\0b", ".hidden", "a\nb"])
def test_unsafe_path_components(part):
    with pytest.raises(InvalidDistribution):
        safe_path_component(part)


@pytest.mark.parametrize(
    ("name", "valid"),
    [("a", True), ("A.b-c_d", True), ("-a", False), ("a-", False), ("a b", False), ("", False)],
)
def test_project_names(name, valid):
    assert is_valid_project_name(name) is valid


def test_metadata_from_wheel_and_sdist():
    assert b"Name: pkg" in read_core_metadata(io.BytesIO(wheel_bytes("pkg", "1.0")), "x.whl")
    assert b"Name: pkg" in read_core_metadata(io.BytesIO(sdist_bytes("pkg", "1.0")), "x.tar.gz")


def test_sdist_without_pkg_info():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        entry = tarfile.TarInfo("pkg-1.0/setup.py")
        archive.addfile(entry, io.BytesIO(b""))
    buffer.seek(0)
    with pytest.raises(InvalidDistribution, match="PKG-INFO"):
        read_core_metadata(buffer, "pkg-1.0.tar.gz")


def test_truncated_archive():
    data = wheel_bytes("pkg", "1.0")[:-40]
    with pytest.raises(InvalidDistribution):
        read_core_metadata(io.BytesIO(data), "pkg-1.0-py3-none-any.whl")


def test_parse_core_metadata_fields():
    raw = metadata_text(
        "pkg", "1.0", requires_python=">=3.9", requires_dist=("a>1", "b; extra=='x'")
    )
    meta = parse_core_metadata(raw.encode())
    assert meta.name == "pkg" and meta.version == "1.0"
    assert meta.requires_python == ">=3.9"
    assert meta.requires_dist == ["a>1", "b; extra=='x'"]
    assert meta.description == "Long *description*."
    assert meta.project_urls == {"Homepage": "https://example.invalid/home"}


def test_metadata_without_name_is_invalid():
    with pytest.raises(InvalidDistribution):
        parse_core_metadata(b"Metadata-Version: 2.1\nVersion: 1.0\n")
