"""Ordering of versions, tolerant of the odd non-PEP 440 version in old storage."""

from __future__ import annotations

from collections.abc import Iterable

from packaging.version import InvalidVersion, Version

from pypicloud.models import Package

_LOWEST = Version("0.dev0")


def version_key(version: str) -> tuple[int, Version, str]:
    try:
        return (1, Version(version), version)
    except InvalidVersion:
        return (0, _LOWEST, version)


def newest_first(files: Iterable[Package]) -> list[Package]:
    return sorted(files, key=lambda p: (version_key(p.version), p.filename), reverse=True)


def sorted_versions(versions: Iterable[str]) -> list[str]:
    """Oldest first, each once (the order PEP 700's ``versions`` list uses)."""
    return sorted(set(versions), key=version_key)
