"""ppc-migrate: every file and its facts to another storage, verified, resumable."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

from pypicloud.cache import cache_from_settings
from pypicloud.models import Package
from pypicloud.settings import Settings
from pypicloud.storage.files import FileStorage
from pypicloud.storage.s3 import S3Storage
from tests.dists import wheel_bytes, wheel_name


def put(storage: Path, name: str, version: str, **meta: str) -> bytes:
    """A file in the original's file layout with its ``.meta`` (the true sha256 by default)."""
    data = wheel_bytes(name, version)
    path = storage / name / version / wheel_name(name, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    meta = {"summary": f"{name} {version}", "hash_sha256": hashlib.sha256(data).hexdigest(), **meta}
    Path(f"{path}.meta").write_text(json.dumps(meta))
    return data


def last_line(result) -> str:
    return result.stderr.strip().splitlines()[-1]


def database(ini: Path) -> dict[str, str | None]:
    url = f"sqlite:///{ini.parent / 'db.sqlite'}"
    cache = cache_from_settings(Settings({"pypi.db": "sql", "db.url": url}, environ={}))
    return {p.filename: p.summary for p in cache.all_packages()}


def test_file_to_s3_copies_then_skips(ppc, make_ini, s3_settings):
    source = make_ini("source")
    files = {
        wheel_name("alpha", "1.0"): put(source.parent / "packages", "alpha", "1.0"),
        wheel_name("beta", "2.0"): put(source.parent / "packages", "beta", "2.0"),
    }
    destination = make_ini("destination", **{"pypi.storage": "s3", **s3_settings})

    first = ppc("migrate", source, destination)
    assert first.returncode == 0, first.stderr
    assert (
        last_line(first) == "copied 2, skipped 0, failed 0; the destination database holds 2 files"
    )
    s3 = S3Storage.from_settings(Settings(s3_settings, environ={}))
    stored = {p.filename: p for p in s3.list()}
    assert set(stored) == set(files)
    for filename, data in files.items():
        with s3.open(stored[filename]) as stream:
            assert stream.read() == data
        assert stored[filename].sha256 == hashlib.sha256(data).hexdigest()
    assert database(destination) == {
        wheel_name("alpha", "1.0"): "alpha 1.0",
        wheel_name("beta", "2.0"): "beta 2.0",
    }

    again = ppc("migrate", source, destination)
    assert again.returncode == 0, again.stderr
    assert (
        last_line(again) == "copied 0, skipped 2, failed 0; the destination database holds 2 files"
    )


def test_a_source_file_that_fails_its_sha256_is_not_copied(ppc, make_ini):
    source = make_ini("source")
    put(source.parent / "packages", "alpha", "1.0", hash_sha256="0" * 64)
    put(source.parent / "packages", "beta", "2.0")
    destination = make_ini("destination")

    result = ppc("migrate", source, destination)
    assert result.returncode == 1
    assert f"failed: {wheel_name('alpha', '1.0')}: source sha256 is" in result.stderr
    assert (
        last_line(result) == "copied 1, skipped 0, failed 1; the destination database holds 1 files"
    )
    assert set(database(destination)) == {wheel_name("beta", "2.0")}


def test_an_interrupted_run_resumes_and_a_different_file_is_never_overwritten(ppc, make_ini):
    source = make_ini("source")
    for name in ("alpha", "beta", "gamma"):
        put(source.parent / "packages", name, "1.0")
    destination = make_ini("destination")
    there = FileStorage(destination.parent / "packages")
    alpha = source.parent / "packages/alpha/1.0" / wheel_name("alpha", "1.0")
    there.upload(Package("alpha", "1.0", alpha.name), io.BytesIO(alpha.read_bytes()))
    there.upload(Package("beta", "1.0", wheel_name("beta", "1.0")), io.BytesIO(b"other bytes"))

    result = ppc("migrate", source, destination)
    assert result.returncode == 1
    assert "the destination holds a different file of this name" in result.stderr
    assert (
        last_line(result) == "copied 1, skipped 1, failed 1; the destination database holds 3 files"
    )
    beta = there.list()
    with there.open(next(p for p in beta if p.name == "beta")) as stream:
        assert stream.read() == b"other bytes"


def test_help_and_a_bad_ini(ppc, tmp_path):
    assert "sha256" in ppc("migrate", "--help").stdout
    result = ppc("migrate", tmp_path / "a.ini", tmp_path / "b.ini")
    assert result.returncode == 1 and result.stderr.startswith("error: ")


def test_the_provenance_goes_with_its_file(ppc, make_ini, s3_settings):
    """PEP 740: the sidecar is copied; a record whose sidecar is lost claims none."""
    source = make_ini("source")
    packages = source.parent / "packages"
    document = b'{"version":1,"attestation_bundles":[]}'
    put(packages, "alpha", "1.0", provenance_sha256=hashlib.sha256(document).hexdigest())
    alpha = packages / "alpha" / "1.0" / wheel_name("alpha", "1.0")
    Path(f"{alpha}.provenance.meta").write_bytes(document)
    put(packages, "beta", "2.0", provenance_sha256="ab" * 32)  # its sidecar is lost
    destination = make_ini("destination", **{"pypi.storage": "s3", **s3_settings})

    result = ppc("migrate", source, destination)
    assert result.returncode == 0, result.stderr
    s3 = S3Storage.from_settings(Settings(s3_settings, environ={}))
    stored = {p.filename: p for p in s3.list()}
    copied = stored[wheel_name("alpha", "1.0")]
    assert copied.provenance_sha256 == hashlib.sha256(document).hexdigest()
    assert s3.load_provenance(copied) == document
    lost = stored[wheel_name("beta", "2.0")]
    assert lost.provenance_sha256 is None
    assert s3.load_provenance(lost) is None
