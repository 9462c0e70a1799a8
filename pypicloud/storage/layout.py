"""Where an object store keeps a file, and the type it is served with.

The key layout is the original pypicloud's (COMPAT.md), so buckets it wrote are read as they
are: ``[prefix][md5(filename)[:4]/]<name>/<filename>``. The hash directory spread keys over
S3's partitions in its day; Azure never had it.
"""

from __future__ import annotations

import hashlib

#: By filename suffix; the first match wins, so longer suffixes come first where they overlap.
CONTENT_TYPES = {
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".tar.gz": "application/gzip",
    ".tgz": "application/gzip",
    ".tar.bz2": "application/x-bzip2",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"
#: A file's provenance object is stored under the file's key plus this suffix. The original
#: pypicloud skips such keys: they carry no ``name``/``version`` metadata and their names
#: do not parse as distributions.
PROVENANCE_SUFFIX = ".provenance"
PROVENANCE_CONTENT_TYPE = "application/vnd.pypi.integrity.v1+json"


def object_key(name: str, filename: str, *, prefix: str = "", prepend_hash: bool = True) -> str:
    """The key of ``filename`` of project ``name``; ``prefix`` is prepended verbatim."""
    if not prepend_hash:
        return f"{prefix}{name}/{filename}"
    digest = hashlib.md5(filename.encode("utf-8"), usedforsecurity=False).hexdigest()
    return f"{prefix}{digest[:4]}/{name}/{filename}"


def provenance_key(package_key: str) -> str:
    return package_key + PROVENANCE_SUFFIX


def is_sidecar(key: str) -> bool:
    """Keys that sit beside packages and are not packages: provenance, file-storage ``.meta``."""
    return key.endswith((PROVENANCE_SUFFIX, ".meta"))


def content_type_for(filename: str) -> str:
    """The media type of a distribution file, for downloads and for objects we store."""
    for suffix, content_type in CONTENT_TYPES.items():
        if filename.endswith(suffix):
            return content_type
    return DEFAULT_CONTENT_TYPE
