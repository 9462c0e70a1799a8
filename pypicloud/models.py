"""The record of one distribution file, shared by storage, cache and views."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from packaging.utils import canonicalize_name

# Metadata keys that travel with a file in storage (sidecar ``.meta`` or object metadata).
# The first five are the original pypicloud's; the rest are ours and are ignored by it.
STORED_KEYS = (
    "summary",
    "requires_python",
    "hash_sha256",
    "hash_md5",
    "uploader",
    "yanked",
    "yanked_reason",
    "core_metadata_sha256",
    "size",
    "provenance_sha256",  # the file has a stored provenance object (PEP 740): its sha256
    "keep",  # marked to keep: retention never removes the release
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclasses.dataclass
class Package:
    """One distribution file and its index facts.

    ``name`` is always the normalized project name, so two spellings of one project never
    become two projects. ``data`` holds the optional facts of ``STORED_KEYS``.
    """

    name: str
    version: str
    filename: str
    last_modified: dt.datetime = dataclasses.field(default_factory=utcnow)
    summary: str | None = None
    data: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.name = canonicalize_name(self.name)
        if self.last_modified.tzinfo is None:
            self.last_modified = self.last_modified.replace(tzinfo=dt.UTC)

    @property
    def sha256(self) -> str | None:
        return self.data.get("hash_sha256") or None

    @property
    def md5(self) -> str | None:
        return self.data.get("hash_md5") or None

    @property
    def requires_python(self) -> str | None:
        return self.data.get("requires_python") or None

    @property
    def yanked(self) -> str | bool:
        """False, or the yank reason (an empty string when none was given)."""
        if not self.data.get("yanked"):
            return False
        return str(self.data.get("yanked_reason") or "")

    @property
    def core_metadata_sha256(self) -> str | None:
        return self.data.get("core_metadata_sha256") or None

    @property
    def provenance_sha256(self) -> str | None:
        return self.data.get("provenance_sha256") or None

    @property
    def size(self) -> int | None:
        value = self.data.get("size")
        return int(value) if value not in (None, "") else None

    @property
    def kept(self) -> bool:
        """Marked to keep (``PUT /api/package/<name>/<version>/keep``)."""
        return bool(self.data.get("keep"))

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")

    def stored_metadata(self) -> dict[str, str]:
        """The facts written beside the file in storage, as non-empty strings."""
        meta: dict[str, str] = {}
        if self.summary:
            meta["summary"] = self.summary
        for key in STORED_KEYS[1:]:
            value = self.data.get(key)
            if value is None or value is False or value == "":
                continue
            meta[key] = "true" if value is True else str(value)
        return meta

    @classmethod
    def from_stored_metadata(
        cls,
        name: str,
        version: str,
        filename: str,
        last_modified: dt.datetime,
        meta: dict[str, Any],
    ) -> Package:
        """Build a package from what storage kept (the inverse of ``stored_metadata``)."""
        data: dict[str, Any] = {}
        for key in STORED_KEYS[1:]:
            value = meta.get(key, meta.get(key.replace("_", "-")))
            if value in (None, ""):
                continue
            if key in ("yanked", "keep"):
                value = str(value).lower() == "true"
            elif key == "size":
                try:
                    value = int(value)
                except (TypeError, ValueError):
                    continue
            data[key] = value
        return cls(
            name=name,
            version=version,
            filename=filename,
            last_modified=last_modified,
            summary=meta.get("summary") or None,
            data=data,
        )
