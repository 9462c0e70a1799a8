"""Which names may be looked up upstream, and how upstream files join local ones.

Decided before any upstream request, for every user including admins: a name with a file
uploaded here, or matching ``pypi.disallow_fallback``, or missing from ``pypi.fallback_allow``
when that is set, never causes an upstream request. This is the dependency-confusion
defence: nothing on the client side (PEP 708 was rejected) can tell a private name from a
public one, so the server must never ask.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase

from packaging.version import InvalidVersion, Version

from pypicloud.models import Package
from pypicloud.upstream.options import FallbackOptions
from pypicloud.upstream.parsing import UpstreamFile

# The uploader recorded for files the cache mode copied from the upstream. Usernames cannot
# contain parentheses (accounts.USERNAME), so no user can upload as this.
UPSTREAM_UPLOADER = "(upstream)"

#: A valid project name once normalized (PEP 503 / core metadata), nothing else.
PROJECT_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$")


def is_mirrored(package: Package) -> bool:
    """True for a file the cache mode copied from the upstream (not uploaded here)."""
    return package.data.get("uploader") == UPSTREAM_UPLOADER


def matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in patterns)


class FallbackPolicy:
    def __init__(self, options: FallbackOptions) -> None:
        self.options = options

    @property
    def enabled(self) -> bool:
        return self.options.mode != "none"

    def name_allowed(self, name: str) -> bool:
        """The settings alone (``name`` normalized): disallow wins over allow."""
        opts = self.options
        if not self.enabled or not PROJECT_NAME.match(name) or matches(name, opts.disallow):
            return False  # a name no index could hold is never sent upstream
        return not opts.allow or matches(name, opts.allow)

    def has_private_files(self, files: Sequence[Package]) -> bool:
        return any(not is_mirrored(p) for p in files)

    def may_look_up(self, name: str, local: Sequence[Package]) -> bool:
        """Whether this project's page may involve the upstream at all."""
        if not self.name_allowed(name):
            return False
        return not self.has_private_files(local) or self.options.always_show_upstream

    def old_enough(self, name: str, upstream: UpstreamFile, now: dt.datetime) -> bool:
        """The release-age cooldown: an upstream file newer than ``pypi.fallback_min_age``
        is hidden; one without an upload time is hidden too (its age is unknown)."""
        opts = self.options
        if not opts.min_age or matches(name, opts.min_age_exempt):
            return True
        if upstream.upload_time is None:
            return False
        return (now - upstream.upload_time).total_seconds() >= opts.min_age

    def visible(
        self,
        name: str,
        local: Sequence[Package],
        upstream: Sequence[UpstreamFile],
        now: dt.datetime,
    ) -> list[UpstreamFile]:
        """The upstream files to list beside the local ones.

        A file uploaded here shadows every upstream file of its filename and of its version
        (an upstream file can never replace or join a private release); copies made by the
        cache mode are listed from the upstream entry, so they drop out of this filter.
        """
        private = [p for p in local if not is_mirrored(p)]
        taken_names = {p.filename for p in private}
        taken_versions = {_version_key(p.version) for p in private}
        kept = []
        for entry in upstream:
            if entry.filename in taken_names or _version_key(entry.version) in taken_versions:
                continue
            if not self.old_enough(name, entry, now):
                continue
            kept.append(entry)
        return kept


def _version_key(version: str) -> Version | str:
    """Equal for equal PEP 440 versions (``1.0`` and ``1.0.0``)."""
    try:
        return Version(version)
    except InvalidVersion:
        return version
