"""Provenance sidecars on every backend: kept beside the file, passed by ``list()`` (ours
and, by its rules, the original pypicloud's), and deleted with the file."""

from __future__ import annotations

import io

import pytest

from pypicloud.storage.base import ProvenanceStore
from tests.functional.storage.test_contract import BACKENDS, make_package

DOCUMENT = b'{"version":1,"attestation_bundles":[]}'
#: The original pypicloud's dist extensions (distlib's source and binary extensions): a
#: metadata-less object whose name ends otherwise is skipped by its listing.
ORIGINAL_EXTENSIONS = (
    ".tar.gz",
    ".tar.bz2",
    ".tar",
    ".zip",
    ".tgz",
    ".tbz",
    ".whl",
    ".egg",
    ".exe",
)


@pytest.fixture(params=BACKENDS)
def storage(request):
    return request.getfixturevalue(f"{request.param}_storage")


def test_kept_read_and_deleted_with_the_file(storage):
    assert isinstance(storage, ProvenanceStore)
    package = make_package(provenance_sha256="ab" * 32)
    stored = storage.upload(package, io.BytesIO(b"hello"))
    assert storage.load_provenance(stored) is None
    storage.save_provenance(stored, DOCUMENT)
    assert storage.load_provenance(stored) == DOCUMENT
    [listed] = storage.list()  # the sidecar is not a package
    assert listed.filename == package.filename
    assert listed.provenance_sha256 == "ab" * 32  # the fact travels with the file
    storage.delete(stored)
    assert storage.load_provenance(stored) is None
    assert list(storage.list()) == []


def test_delete_provenance_alone_keeps_the_file(storage):
    stored = storage.upload(make_package(), io.BytesIO(b"hello"))
    storage.save_provenance(stored, DOCUMENT)
    storage.delete_provenance(stored)
    storage.delete_provenance(stored)  # missing is not an error
    assert storage.load_provenance(stored) is None
    assert [p.filename for p in storage.list()] == [stored.filename]


def test_file_sidecar_ends_in_meta_so_the_original_skips_it(file_storage):
    stored = file_storage.upload(make_package(), io.BytesIO(b"hello"))
    file_storage.save_provenance(stored, DOCUMENT)
    names = sorted(p.name for p in file_storage.path_for(stored).parent.iterdir())
    assert names == [
        stored.filename,
        stored.filename + ".meta",
        stored.filename + ".provenance.meta",
    ]
    # The original lists every file of a version directory but those ending in .meta.
    assert [n for n in names if not n.endswith(".meta")] == [stored.filename]


def test_s3_sidecar_has_no_package_metadata_and_no_dist_name(s3_storage, s3_client):
    stored = s3_storage.upload(make_package(), io.BytesIO(b"hello"))
    s3_storage.save_provenance(stored, DOCUMENT)
    key = s3_storage.key_for(stored) + ".provenance"
    head = s3_client.head_object(Bucket=s3_storage.bucket, Key=key)
    # The original reads name/version from metadata, else parses the name, else skips.
    assert not {"name", "version"} & set(head["Metadata"])
    assert not key.endswith(ORIGINAL_EXTENSIONS)
    assert head["ContentType"] == "application/vnd.pypi.integrity.v1+json"


def test_s3_list_does_not_even_head_the_sidecar(s3_storage):
    """Skipped by its name: a rebuild spends no request on it."""
    stored = s3_storage.upload(make_package(), io.BytesIO(b"hello"))
    s3_storage.save_provenance(stored, DOCUMENT)
    heads: list[str] = []

    def record(params, **_kwargs):
        heads.append(params["Key"])

    s3_storage.client.meta.events.register("before-parameter-build.s3.HeadObject", record)
    assert [p.filename for p in s3_storage.list()] == [stored.filename]
    assert heads == [s3_storage.key_for(stored)]
