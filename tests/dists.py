"""Build real, installable wheels and sdists for tests (no build backend needed)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

from packaging.utils import canonicalize_name


def metadata_text(
    name: str,
    version: str,
    summary: str = "A test package",
    requires_python: str | None = None,
    requires_dist: tuple[str, ...] = (),
    description: str = "Long *description*.",
) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: {summary}",
        "Author: Test Author",
        "License: MIT",
        "Classifier: Programming Language :: Python :: 3",
        "Project-URL: Homepage, https://example.invalid/home",
        "Description-Content-Type: text/markdown",
    ]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {req}" for req in requires_dist]
    return "\n".join(lines) + "\n\n" + description + "\n"


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def wheel_bytes(
    name: str,
    version: str,
    *,
    metadata: str | None = None,
    extra: dict[str, bytes] | None = None,
    **meta_kwargs,
) -> bytes:
    """An installable pure-Python wheel with one module named after the project (and the
    ``extra`` files, by path, e.g. to make it large)."""
    dist = canonicalize_name(name).replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files = {
        **(extra or {}),
        f"{dist}/__init__.py": f'VERSION = "{version}"\n'.encode(),
        f"{info}/METADATA": (metadata or metadata_text(name, version, **meta_kwargs)).encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = [_record_line(path, data) for path, data in files.items()]
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            archive.writestr(zipfile.ZipInfo(path, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


def wheel_name(name: str, version: str) -> str:
    return f"{canonicalize_name(name).replace('-', '_')}-{version}-py3-none-any.whl"


def sdist_bytes(name: str, version: str, *, metadata: str | None = None, **meta_kwargs) -> bytes:
    """A PEP 625 sdist with PKG-INFO and a minimal setuptools-less pyproject."""
    dist = canonicalize_name(name).replace("-", "_")
    root = f"{dist}-{version}"
    files = {
        f"{root}/PKG-INFO": (metadata or metadata_text(name, version, **meta_kwargs)).encode(),
        f"{root}/{dist}/__init__.py": f'VERSION = "{version}"\n'.encode(),
    }
    buffer = io.BytesIO()
    # Fixed times make the bytes reproducible: the same release built twice is identical.
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w") as archive,
    ):
        for path, data in files.items():
            entry = tarfile.TarInfo(path)
            entry.size = len(data)
            entry.mtime = 1_700_000_000
            archive.addfile(entry, io.BytesIO(data))
    return buffer.getvalue()


def sdist_name(name: str, version: str) -> str:
    return f"{canonicalize_name(name).replace('-', '_')}-{version}.tar.gz"


def write_dists(directory: Path, name: str, version: str, **meta_kwargs) -> list[Path]:
    """A wheel and an sdist of one release, written to ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / wheel_name(name, version)
    wheel.write_bytes(wheel_bytes(name, version, **meta_kwargs))
    sdist = directory / sdist_name(name, version)
    sdist.write_bytes(sdist_bytes(name, version, **meta_kwargs))
    return [wheel, sdist]
