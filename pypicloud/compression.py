"""Gzip for large index pages: chosen from ``Accept-Encoding``, made once per page and serial.

At 10,000 projects ``/simple/`` is about 800 KB; pip and uv send ``Accept-Encoding: gzip``.
A page over ``MIN_BYTES`` is compressed once (the page caches keep the result until the
serial moves) and served with ``Content-Encoding: gzip`` and its own ETag, the identity
ETag with ``-gzip`` added, so a cache or client never mixes the two representations.
"""

from __future__ import annotations

import functools
import gzip

#: Smaller bodies are sent as they are: gzip's header and the CPU would outweigh the gain.
MIN_BYTES = 1024
VARY = "Accept, Accept-Encoding, Authorization, Cookie"
SUFFIX = "-gzip"


@functools.lru_cache(maxsize=256)
def accepts_gzip(header: str) -> bool:
    """Whether an Accept-Encoding header allows gzip (RFC 9110 12.5.3: ``gzip`` or
    ``x-gzip`` with q > 0, else ``*`` with q > 0; no header means identity here)."""
    explicit: float | None = None
    wildcard: float | None = None
    for part in header.split(","):
        coding, _, params = part.partition(";")
        coding = coding.strip().lower()
        quality = _quality(params)
        if coding in ("gzip", "x-gzip"):
            explicit = quality if explicit is None else max(explicit, quality)
        elif coding == "*":
            wildcard = quality
    if explicit is not None:
        return explicit > 0
    return wildcard is not None and wildcard > 0


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value.strip())))
            except ValueError:
                return 0.0  # a q we cannot read: not acceptable
    return 1.0


def compress(body: bytes) -> bytes:
    """The gzip member for a page (mtime 0: the same page compresses to the same bytes)."""
    return gzip.compress(body, compresslevel=6, mtime=0)


def gzip_etag(etag: str) -> str:
    """``"abc"`` -> ``"abc-gzip"`` (a weak ``W/`` prefix kept)."""
    weak = etag.startswith("W/")
    bare = etag.removeprefix("W/")
    tagged = bare[:-1] + SUFFIX + '"' if bare.endswith('"') else bare + SUFFIX
    return ("W/" if weak else "") + tagged


def identity_etag(etag: str) -> str:
    """The inverse of ``gzip_etag`` (an ETag without the suffix is returned as it is)."""
    return etag.replace(SUFFIX + '"', '"') if etag.endswith(SUFFIX + '"') else etag
