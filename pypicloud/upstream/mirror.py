"""The cache mode's fill: copy one upstream file into this index, verified first.

The bytes go to an unnamed temporary file while their sha256 is computed; only when it
equals the upstream page's digest is the file handed to ``PackageService.upload``, the path
every upload takes (validation, storage, then the database with its metadata). Concurrent
first downloads of one filename in this process fetch it once: they wait on a lock keyed by
the filename and then find the stored copy. (Processes do not share the lock; two processes
may both fetch, and storage's exclusive write lets one of them win.)
"""

from __future__ import annotations

import hashlib
import logging
import tempfile

from pypicloud.locks import KeyLocks
from pypicloud.models import Package
from pypicloud.packages import PackageService
from pypicloud.uploads import UploadRefused, UploadRequest
from pypicloud.upstream.client import CHUNK, UpstreamClient, UpstreamUnavailable
from pypicloud.upstream.parsing import UpstreamFile
from pypicloud.upstream.policy import UPSTREAM_UPLOADER

log = logging.getLogger(__name__)


class HashMismatch(UpstreamUnavailable):
    """The upstream's bytes do not match its own page's sha256: nothing was stored."""


class Mirror:
    def __init__(self, packages: PackageService, client: UpstreamClient) -> None:
        self.packages = packages
        self.client = client
        self.locks = KeyLocks()
        #: Files fetched from the upstream, for the figures and the tests.
        self.fetches = 0

    def fill(self, name: str, entry: UpstreamFile) -> Package | None:
        """The stored copy of ``entry`` (fetched now unless another request did), or None
        when this index refuses the file (too large, invalid): the caller passes it through."""
        with self.locks.hold(entry.filename):
            existing = self.packages.fetch(name, entry.filename)
            if existing is not None:
                return existing
            if not entry.sha256:
                raise UpstreamUnavailable(f"the upstream gives no sha256 for {entry.filename}")
            with tempfile.TemporaryFile() as spool:
                self._download(entry, spool)
                spool.seek(0)
                request = UploadRequest(
                    filename=entry.filename,
                    content=spool,  # type: ignore[arg-type]
                    name=name,
                    version=entry.version,
                    filetype=entry.kind,
                    digests={"sha256": entry.sha256},
                    uploader=UPSTREAM_UPLOADER,
                )
                try:
                    result = self.packages.upload(request)
                except UploadRefused as exc:
                    log.warning("not caching %s from the upstream: %s", entry.filename, exc)
                    return None
            log.info("cached %s from the upstream", entry.filename)
            return result.package

    def _download(self, entry: UpstreamFile, spool: object) -> None:
        from urllib3.exceptions import HTTPError, TimeoutError  # loaded with the client

        self.fetches += 1
        digest = hashlib.sha256()
        try:
            with self.client.open(entry.url) as response:
                while chunk := response.read(CHUNK):
                    digest.update(chunk)
                    spool.write(chunk)  # type: ignore[attr-defined]
        except TimeoutError as exc:
            raise UpstreamUnavailable(f"the upstream timed out: {exc}", timeout=True) from None
        except HTTPError as exc:
            raise UpstreamUnavailable(f"the upstream broke off: {exc}") from None
        if digest.hexdigest() != entry.sha256:
            log.error("sha256 mismatch for %s from %s: not stored", entry.filename, entry.url)
            raise HashMismatch(f"the upstream's {entry.filename} does not match its sha256")
