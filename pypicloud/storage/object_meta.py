"""Index facts as object-store metadata (S3, CloudFront, GCS, Azure Blob).

Layout (the original pypicloud's, see COMPAT.md): ``name``, ``version`` and the
``Package.stored_metadata()`` fields with ``_`` turned into ``-`` (``hash-sha256``...).

Object metadata travels in HTTP headers, so values must be printable ASCII. The original
folded non-ASCII text to ASCII (lossy). We keep printable ASCII values byte for byte (so
the original can still read what we write) and encode any other value as one RFC 2047
encoded word, ``=?utf-8?b?<base64>?=``, the same form S3 itself uses for non-ASCII
metadata. Readers decode encoded words, and accept plain values and both key spellings.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Mapping
from email.errors import HeaderParseError
from email.header import decode_header, make_header

from pypicloud.dists import InvalidDistribution, parse_filename
from pypicloud.models import Package

# Free-text facts that may be shortened to fit a store's metadata size limit, in order.
SHORTENABLE = ("yanked_reason", "summary")
# One or more RFC 2047 encoded words (what we write, and what S3 and mail tools write).
_ENCODED_WORDS = re.compile(r"^=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=(\s+=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=)*$")


def encode_value(value: str) -> str:
    """``value`` unchanged if it is safe in a header and unambiguous, else an encoded word."""
    safe = (
        value.isascii()
        and value.isprintable()
        and value == value.strip()
        and "  " not in value
        and not _ENCODED_WORDS.match(value)
    )
    if safe:
        return value
    return "=?utf-8?b?" + base64.b64encode(value.encode("utf-8")).decode("ascii") + "?="


def decode_value(value: str) -> str:
    """The inverse of ``encode_value``; plain (original pypicloud) values pass through."""
    if not _ENCODED_WORDS.match(value.strip()):
        return value
    try:
        return str(make_header(decode_header(value.strip())))
    except (HeaderParseError, LookupError, UnicodeDecodeError, ValueError):
        return value


def encode_metadata(
    package: Package,
    *,
    sep: str = "-",
    upload_time: bool = False,
    max_bytes: int | None = None,
) -> dict[str, str]:
    """The object metadata for ``package``: header-safe keys and values.

    ``sep`` replaces ``_`` in key names (``-`` for S3/GCS; Azure needs identifiers, ``_``).
    ``upload_time`` records ``package.last_modified`` as ``upload-time``: use it when
    rewriting metadata changes the object's own modification time (S3 copy, Azure).
    ``max_bytes`` is the store's limit on keys plus values (S3: 2048); free text (yank
    reason, then summary) is shortened to fit, ending in "…", rather than failing the upload.
    """
    meta = {"name": package.name, "version": package.version}
    meta.update(package.stored_metadata())
    if upload_time:
        meta["upload_time"] = package.last_modified.isoformat()

    def encode() -> dict[str, str]:
        return {key.replace("_", sep): encode_value(value) for key, value in meta.items()}

    encoded = encode()
    for field in SHORTENABLE:
        if max_bytes is None or _size(encoded) <= max_bytes or not meta.get(field):
            continue
        text, low, high = meta[field], 0, len(meta[field])
        while low < high:  # the longest prefix that fits, by bisection
            middle = (low + high + 1) // 2
            meta[field] = text[:middle].rstrip() + "…"
            if _size(encode()) <= max_bytes:
                low = middle
            else:
                high = middle - 1
        meta[field] = text[:low].rstrip() + "…" if low else ""
        if not meta[field]:
            del meta[field]
        encoded = encode()
    return encoded


def _size(meta: Mapping[str, str]) -> int:
    return sum(len(key.encode()) + len(value.encode()) for key, value in meta.items())


def decode_metadata(
    meta: Mapping[str, str],
    filename: str,
    last_modified: dt.datetime,
    *,
    size: int | None = None,
) -> Package | None:
    """The package an object describes, or None when the object is not a package.

    ``meta`` is the object's user metadata (any key case, ``-`` or ``_``); a recorded
    ``upload-time`` wins over ``last_modified`` (the object's own time). Objects written
    before metadata existed get name and version from the filename; anything whose
    filename does not parse (``.meta`` sidecars, stray files) is not a package. ``size``
    (the object's length) is used when the metadata does not record one.
    """
    facts = {
        key.lower().replace("-", "_"): decode_value(value)
        for key, value in meta.items()
        if isinstance(value, str)
    }
    name, version = facts.pop("name", None), facts.pop("version", None)
    last_modified = _parse_time(facts.pop("upload_time", None)) or last_modified
    if not name or not version:
        try:
            parsed = parse_filename(filename)
        except InvalidDistribution:
            return None
        name, version = name or parsed.name, version or parsed.version
    if size is not None and not facts.get("size"):
        facts["size"] = str(size)
    return Package.from_stored_metadata(name, version, filename, last_modified, facts)


def _parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
