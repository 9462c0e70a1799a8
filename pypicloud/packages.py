"""PackageService: the only code that changes packages, and where the invariants live.

An upload is validated completely on a private temporary copy before anything is stored;
storage is written first (atomically, exclusively), then the cache, so the index never shows
a file that is not fully stored, and of two concurrent uploads of one filename exactly one
wins. The service also owns the policies the views apply: how a file reaches a client
(stream, redirect, signed link), who may overwrite or delete, health and the serial.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import IO, BinaryIO

from packaging.utils import canonicalize_name

from pypicloud.access.base import group_principal
from pypicloud.attestation_verify import AttestationVerifier
from pypicloud.audit import Actor, AuditLog, NullAuditLog
from pypicloud.cache import Cache
from pypicloud.cache.base import ProjectSummary
from pypicloud.dists import InvalidDistribution, read_core_metadata, versions_equal
from pypicloud.locks import KeyLocks
from pypicloud.metrics import Metrics, MetricsOptions
from pypicloud.models import Package
from pypicloud.rebuild import Rebuilder
from pypicloud.settings import Settings
from pypicloud.status import ProjectStatus
from pypicloud.status import loads as load_status
from pypicloud.storage import FileExists, PackageNotStored, Storage
from pypicloud.storage.base import ProvenanceStore
from pypicloud.uploads import (
    CHUNK,
    SPOOL_LIMIT,
    Refusal,
    UploadRefused,
    UploadRequest,
    ValidatedUpload,
    validate,
)

log = logging.getLogger(__name__)

#: How long (ms) a serial read is reused: another process's write shows within this bound;
#: this process's own writes show at once (they expire it).
DEFAULT_SERIAL_CACHE_MS = 250
#: Project statuses remembered for the current serial (a bound: clients choose the names).
MAX_STATUSES_KEPT = 4096

#: Who the audit log names for deletions by a retention rule.
RETENTION_ACTOR = Actor(name="retention")


class NotAllowed(Exception):
    """A policy (not a grant) forbids the action; the message says which setting."""


class Delivery(enum.Enum):
    """How a download reaches the client."""

    STREAM = "stream"  # through this server
    REDIRECT = "redirect"  # a 302 to a signed (or public) storage URL
    LINK = "link"  # index pages link to signed storage URLs directly
    ACCEL = "accel"  # nginx sends the file (X-Accel-Redirect, storage.accel_redirect)


@dataclasses.dataclass(frozen=True)
class PackageOptions:
    allow_overwrite: bool = False
    allow_overwrite_groups: tuple[str, ...] = ()
    allow_delete: bool = True
    allow_delete_groups: tuple[str, ...] = ()
    max_upload_size: int = 100 * 1024 * 1024
    stream_files: bool = False
    graceful_reload: bool = False
    serial_cache_seconds: float = DEFAULT_SERIAL_CACHE_MS / 1000

    @classmethod
    def from_settings(cls, settings: Settings) -> PackageOptions:
        settings.bool("pypi.calculate_package_hashes", True)  # always done; accepted
        return cls(
            allow_overwrite=settings.bool("pypi.allow_overwrite", False),
            allow_overwrite_groups=tuple(settings.list("pypi.allow_overwrite_groups")),
            allow_delete=settings.bool("pypi.allow_delete", True),
            allow_delete_groups=tuple(settings.list("pypi.allow_delete_groups")),
            max_upload_size=settings.size("pypi.max_upload_size", cls.max_upload_size) or 0,
            stream_files=settings.bool("pypi.stream_files", False),
            graceful_reload=settings.bool("db.graceful_reload", False),
            serial_cache_seconds=(
                settings.int("db.serial_cache_ms", DEFAULT_SERIAL_CACHE_MS, minimum=0) or 0
            )
            / 1000,
        )


def _policy_allows(enabled: bool, groups: tuple[str, ...], principals: frozenset[str]) -> bool:
    """A ``pypi.allow_*`` switch with its ``*_groups`` list: when groups are listed, only
    their members may (whatever the switch says); otherwise the switch decides for every
    user with write permission."""
    if groups:
        return any(group_principal(g) in principals for g in groups)
    return enabled


@dataclasses.dataclass
class UploadResult:
    package: Package
    created: bool  # False when an identical file was already there


@dataclasses.dataclass(frozen=True)
class Download:
    """What a download request gets: a redirect URL, or the package to stream."""

    package: Package
    redirect_url: str | None = None
    accel_uri: str | None = None  # nginx's internal URI of the file


class PackageService:
    """The use cases on packages; one instance per process, shared by all threads."""

    def __init__(
        self,
        storage: Storage,
        cache: Cache,
        options: PackageOptions,
        *,
        audit: AuditLog | None = None,
        metrics: Metrics | None = None,
        verifier: AttestationVerifier | None = None,
    ) -> None:
        self.storage = storage
        self.cache = cache
        self.options = options
        #: Checks attestations' signatures (``pypi.attestations_verify``); None: not checked.
        self.verifier = verifier
        self.audit: AuditLog = audit or NullAuditLog()
        self.metrics = metrics or Metrics(MetricsOptions(mode="off"))
        if getattr(storage, "accel_location", None):
            self.delivery = Delivery.ACCEL
        elif options.stream_files:
            self.delivery = Delivery.STREAM
        elif storage.redirect_urls:
            self.delivery = Delivery.REDIRECT
        else:
            self.delivery = Delivery.LINK
        self._summary: tuple[int, list[ProjectSummary]] | None = None
        self._summary_lock = threading.Lock()
        self._statuses: tuple[int, dict[str, ProjectStatus]] = (-1, {})
        self._quarantined: tuple[int, frozenset[str]] | None = None
        self.window = ChangeWindow()
        self.file_locks = KeyLocks()
        self.rebuilder = Rebuilder(cache, self._listing, self._reload, on_finish=self._rebuilt)
        self._serial = SerialWatch(cache.serial, options.serial_cache_seconds)

    # -- reading -----------------------------------------------------------------------

    def serial(self) -> int:
        """The cache's serial, read at most once per ``db.serial_cache_ms`` (a round trip
        to the database per request was the hot path's largest cost)."""
        return self._serial.current()

    def changed(self) -> None:
        """This process wrote: the next ``serial()`` reads the database again."""
        self._serial.expire()

    def projects(self) -> list[str]:
        return self.cache.distinct()

    def project_set(self) -> frozenset[str]:
        return frozenset(self.cache.distinct())

    def summary(self) -> list[ProjectSummary]:
        """One row per project, by name; kept until the serial moves, because the web UI's
        home page and search read every row on every request."""
        serial = self.serial()
        with self._summary_lock:
            if self._summary is not None and self._summary[0] == serial:
                return self._summary[1]
        rows = self.cache.summary()
        with self._summary_lock:
            self._summary = (serial, rows)
        return rows

    def files(self, name: str) -> list[Package]:
        return self.cache.all(canonicalize_name(name))

    def release(self, name: str, version: str) -> list[Package]:
        """Every file of one version (compared as PEP 440 versions)."""
        return [p for p in self.files(name) if versions_equal(p.version, version)]

    def fetch(self, name: str, filename: str) -> Package | None:
        package = self.cache.fetch(filename)
        if package is None or package.name != canonicalize_name(name):
            return None
        return package

    def core_metadata(self, package: Package) -> bytes | None:
        """The file's METADATA/PKG-INFO, from the cache or, once, from the file itself."""
        content = self.cache.core_metadata(package.filename)
        if content is not None:
            return content
        try:
            with self.storage.open(package) as stream, _seekable(stream) as seekable:
                content = read_core_metadata(seekable, package.filename)
        except (PackageNotStored, InvalidDistribution) as exc:
            log.warning("no core metadata for %s: %s", package.filename, exc)
            return None
        self.cache.save_core_metadata(package.filename, content)
        return content

    def status(self, name: str) -> ProjectStatus:
        """A project's status (PEP 792); read once per serial and project, since every
        download and upload asks (a status change moves the serial)."""
        name = canonicalize_name(name)
        serial = self.serial()
        with self._summary_lock:
            known_serial, known = self._statuses
            if known_serial == serial and name in known:
                return known[name]
        found = self.current_status(name)
        with self._summary_lock:
            # A new serial, or too many names asked (any name may be asked): start over.
            if self._statuses[0] != serial or len(self._statuses[1]) >= MAX_STATUSES_KEPT:
                self._statuses = (serial, {})
            self._statuses[1][name] = found
        return found

    def current_status(self, name: str) -> ProjectStatus:
        """A project's status read now, for a write: an upload moves the serial, so the
        per-serial memo of ``status`` never answers the next one (and a write should not
        act on a status up to ``db.serial_cache_ms`` old)."""
        return load_status(self.cache.project_status(canonicalize_name(name)))

    def quarantined(self) -> frozenset[str]:
        """Every quarantined project, for a search over all of them: one batched read of
        the statuses of ``summary()``'s projects, kept until the serial moves as that is.
        Names come from the database, so unlike ``status()`` none is chosen by a client."""
        serial = self.serial()
        with self._summary_lock:
            if self._quarantined is not None and self._quarantined[0] == serial:
                return self._quarantined[1]
        kept = self.cache.project_statuses(row.name for row in self.summary())
        found = frozenset(name for name, text in kept.items() if load_status(text).hides_files)
        with self._summary_lock:
            self._quarantined = (serial, found)
        return found

    def offered(self, name: str) -> list[Package]:
        """The files index pages offer for installation: none of a quarantined project."""
        return [] if self.status(name).hides_files else self.files(name)

    # -- serving files -----------------------------------------------------------------

    @property
    def links_expire(self) -> bool:
        """True when index pages embed signed URLs, which must not be cached for long."""
        # File storage has no signed URLs: its pages link to this server's stable URLs.
        return self.delivery is Delivery.LINK and getattr(self.storage, "signs_links", True)

    def index_link(self, package: Package) -> str | None:
        """The storage URL an index page links to, or None for this server's stable URL."""
        if self.delivery is Delivery.LINK:
            return self.storage.download_url(package)
        return None

    def download(self, package: Package) -> Download:
        if self.delivery is Delivery.ACCEL:
            self.metrics.download("accel")
            return Download(package, accel_uri=self.storage.accel_uri(package))  # type: ignore[attr-defined]
        if self.delivery is Delivery.REDIRECT:
            url = self.storage.download_url(package)
            if url:
                self.metrics.download("redirect")
                return Download(package, redirect_url=url)
        self.metrics.download("stream")
        return Download(package)

    def open(self, package: Package) -> AbstractContextManager[BinaryIO]:
        """The file's bytes; PackageNotStored when storage lost it."""
        return self.storage.open(package)

    def provenance(self, package: Package) -> bytes | None:
        """The file's provenance object (PEP 740), when the index records one."""
        if not package.provenance_sha256 or not isinstance(self.storage, ProvenanceStore):
            return None
        return self.storage.load_provenance(package)

    # -- policies ----------------------------------------------------------------------

    def may_overwrite(self, principals: frozenset[str]) -> bool:
        opts = self.options
        return _policy_allows(opts.allow_overwrite, opts.allow_overwrite_groups, principals)

    def may_delete(self, principals: frozenset[str]) -> bool:
        opts = self.options
        return _policy_allows(opts.allow_delete, opts.allow_delete_groups, principals)

    # -- writing -----------------------------------------------------------------------

    def upload(
        self, request: UploadRequest, principals: frozenset[str] = frozenset()
    ) -> UploadResult:
        """Validate, store and index one distribution file, as PyPI's upload would."""
        checked = validate(request, self.options.max_upload_size, self.verifier)
        if checked.provenance is not None and not isinstance(self.storage, ProvenanceStore):
            checked.spool.close()
            raise UploadRefused("Invalid attestations: this index's storage cannot keep them")
        status = self.current_status(checked.package.name)
        if status.refuses_uploads:  # PEP 792: before anything is stored
            checked.spool.close()
            raise UploadRefused(status.upload_refusal())
        # Storing and indexing are two steps, and so is a delete: interleaved, a delete's
        # cache step could remove the record of a file an upload had just stored.
        with self.file_locks.hold(checked.package.filename):
            try:
                overwrite = self.may_overwrite(principals)
                existing = self.cache.fetch(checked.package.filename)
                if existing is not None and not overwrite:
                    return self._same_file_or_conflict(existing, checked)
                stored = self.store(checked, overwrite=overwrite)
                if stored is None:
                    winner = self.cache.fetch(checked.package.filename)
                    if winner is None:
                        raise UploadRefused("File already exists", Refusal.CONFLICT)
                    return self._same_file_or_conflict(winner, checked)
            finally:
                checked.spool.close()
            self.keep_provenance(stored, checked.provenance, replaced=existing is not None)
            self.index(stored, checked.core_metadata)
        log.info("uploaded %s by %s", stored.filename, request.uploader or "anonymous")
        self.metrics.upload(created=True)
        self.audit.record(
            "overwrite" if existing is not None else "upload",
            project=stored.name,
            target=stored.filename,
            detail=f"sha256 {stored.sha256}" if stored.sha256 else None,
        )
        return UploadResult(stored, created=True)

    def _same_file_or_conflict(self, existing: Package, checked: ValidatedUpload) -> UploadResult:
        if existing.sha256 == checked.package.sha256:
            self.metrics.upload(created=False)
            return UploadResult(existing, created=False)
        raise UploadRefused("File already exists", Refusal.CONFLICT)

    def store(self, checked: ValidatedUpload, *, overwrite: bool) -> Package | None:
        """Write the file to storage; None when another upload of the filename won."""
        checked.spool.file.seek(0)
        try:
            return self.storage.upload(checked.package, checked.spool.file, overwrite=overwrite)
        except FileExists:
            return None

    def keep_provenance(self, package: Package, document: bytes | None, *, replaced: bool) -> None:
        """Store the provenance beside a just-stored file (or drop an overwritten file's);
        on failure the stored file is removed, so no file claims a provenance it lacks."""
        if not isinstance(self.storage, ProvenanceStore) or (document is None and not replaced):
            return
        try:
            if document is None:
                self.storage.delete_provenance(package)
            else:
                self.storage.save_provenance(package, document)
        except Exception:
            log.exception(
                "provenance write failed for %s; removing the stored file", package.filename
            )
            self.storage.delete(package)
            raise

    def index(self, package: Package, core_metadata: bytes) -> None:
        """Record a stored file in the cache; on failure the stored file is removed."""
        try:
            self.cache.save_uploaded(package, core_metadata)
            self.changed()
            self.window.record(package, deleted=False)
        except Exception:
            log.exception("cache write failed for %s; removing the stored file", package.filename)
            self.storage.delete(package)
            raise

    def check_delete(self, principals: frozenset[str]) -> None:
        """Raise NotAllowed unless the delete policy lets these principals delete."""
        if not self.may_delete(principals):
            raise NotAllowed(
                "Deleting packages is disabled (pypi.allow_delete, pypi.allow_delete_groups)"
            )

    def delete(self, package: Package, principals: frozenset[str] = frozenset()) -> None:
        self.check_delete(principals)
        self._remove(package)

    def expire(self, package: Package, reason: str) -> None:
        """Delete a file under a retention rule (pypi.retention): the operator wrote the
        rule, so no user's delete policy applies; recorded as the ``retention`` actor."""
        self._remove(package, actor=RETENTION_ACTOR, detail=f"retention: {reason}")

    def _remove(
        self, package: Package, *, actor: Actor | None = None, detail: str | None = None
    ) -> None:
        with self.file_locks.hold(package.filename):
            self.storage.delete(package)
            self.cache.delete(package)
            self.changed()
            self.window.record(package, deleted=True)
        log.info("deleted %s%s", package.filename, f" ({detail})" if detail else "")
        self.audit.record(
            "delete", project=package.name, target=package.filename, detail=detail, actor=actor
        )

    def _change_data(self, package: Package, data: dict) -> Package:
        """Replace a file's facts: in storage first (they travel with it), then the cache."""
        changed = dataclasses.replace(package, data=data)
        self.storage.update_metadata(changed)
        self.cache.save(changed)
        self.changed()
        self.window.record(changed, deleted=False)
        return changed

    def set_kept(self, package: Package, keep: bool) -> Package:
        """Mark one file to keep (retention never removes its release), or clear the mark."""
        data = {k: v for k, v in package.data.items() if k != "keep"}
        if keep:
            data["keep"] = True
        changed = self._change_data(package, data)
        self.audit.record(
            "keep" if keep else "unkeep", project=package.name, target=package.filename
        )
        return changed

    def set_release_kept(self, files: Iterable[Package], keep: bool) -> list[Package]:
        return [self.set_kept(p, keep) for p in files]

    def mirror(self, filename: str, stored: Package | None, *, key_of: str | None = None) -> str:
        """Make the record of ``filename`` what storage holds, after another server changed
        it (``pypicloud.sync``): ``stored`` is the object's package, None when it is gone.

        Storage is not touched and nothing is audited (the writing server recorded the
        action). A delete applies only when ``key_of`` (the removed object's key) is where
        the recorded file lives, so a stray copy elsewhere never removes the real one.
        Returns ``saved``, ``deleted`` or ``unchanged`` (a replayed event changes nothing).
        """
        with self.file_locks.hold(filename):
            existing = self.cache.fetch(filename)
            if stored is None:
                if existing is None or (
                    key_of is not None and not self._stored_at(existing, key_of)
                ):
                    return "unchanged"
                self.cache.delete(existing)
                self.changed()
                self.window.record(existing, deleted=True)
                return "deleted"
            if existing == stored:
                return "unchanged"
            self.cache.save(stored)
            self.changed()
            self.window.record(stored, deleted=False)
            return "saved"

    def _stored_at(self, package: Package, key: str) -> bool:
        key_for = getattr(self.storage, "key_for", None)
        return key_for is None or key_for(package) == key

    def set_yanked(self, package: Package, yanked: bool, reason: str = "") -> Package:
        """Yank or unyank one file; the facts travel with it in storage, then the cache."""
        data = dict(package.data)
        data.pop("yanked_reason", None)
        if yanked:
            data["yanked"] = True
            if reason:
                data["yanked_reason"] = reason
        else:
            data.pop("yanked", None)
        changed = self._change_data(package, data)
        self.audit.record(
            "yank" if yanked else "unyank",
            project=package.name,
            target=package.filename,
            detail=(reason or None) if yanked else None,
        )
        return changed

    def set_release_yanked(
        self, files: Iterable[Package], yanked: bool, reason: str = ""
    ) -> list[Package]:
        """Yank or unyank every file of a release, as PyPI yanks releases."""
        return [self.set_yanked(p, yanked, reason) for p in files]

    def set_status(self, name: str, status: ProjectStatus) -> ProjectStatus:
        """Change a project's status; ``active`` drops the record. Moves the serial, so no
        cached page or fast-path answer shows the old one."""
        name = canonicalize_name(name)
        previous = load_status(self.cache.project_status(name))
        self.cache.save_project_status(name, None if status.is_active else status.dumps())
        self.changed()
        log.info("project %s is now %s", name, status.status.value)
        detail = status.status.value + (f": {status.reason}" if status.reason else "")
        self.audit.record("status", project=name, detail=f"{previous.status.value} -> {detail}")
        return status

    def reload_from_storage(self) -> int:
        """Rebuild now (under the deployment's rebuild lock: RebuildBusy if another runs)."""
        return self.rebuilder.run(graceful=self.options.graceful_reload)

    def start_rebuild(self) -> bool:
        """Rebuild in the background, gracefully; False when a rebuild already runs."""
        return self.rebuilder.start(graceful=True)

    def _rebuilt(self, result: int | None, error: str | None, actor: Actor) -> None:
        """A rebuild ended: counted, and recorded as done by whoever started it."""
        self.metrics.rebuild(ok=error is None)
        detail = f"{result} files" if error is None else f"failed: {error}"
        self.audit.record("rebuild", detail=detail, actor=actor)

    def _listing(self) -> Iterator[Package]:
        """Lazy: the records to reuse are read when the cache starts consuming the listing
        (after it noted where the rebuild began, see SQLCache.reload_from_storage)."""
        known = {p.filename: p for p in self.cache.all_packages()}
        yield from self.storage.list(known)

    def _reload(self, stored: Iterable[Package], graceful: bool) -> int:
        """Replace the records with storage's listing, then replay what this process wrote
        meanwhile: a file stored after the listing passed its place (or deleted after the
        listing saw it) would otherwise be lost from (or left in) the index until the next
        rebuild."""
        self.window.open()
        try:
            count = self.cache.reload_from_storage(stored, graceful=graceful)
        finally:
            changes = self.window.close()
            self.changed()
        for package, deleted in changes:
            if deleted:
                self.cache.delete(package)
            else:
                self.cache.save(package)
        self.changed()
        log.info(
            "rebuilt the package database from storage: %d files (%d written meanwhile)",
            count,
            len(changes),
        )
        return count

    # -- operations --------------------------------------------------------------------

    def health(self) -> dict[str, tuple[bool, str]]:
        return {"storage": self.storage.check_health(), "cache": self.cache.check_health()}


class SerialWatch:
    """A serial source read at most once per ``interval`` seconds; ``expire`` forces a read.

    A read that started before an ``expire`` is not kept (it may predate this process's
    write), so a write is seen by this process's next request whatever the threads do.
    """

    def __init__(self, source: Callable[[], int], interval: float) -> None:
        self.source = source
        self.interval = interval
        self._cached = (0, float("-inf"))  # (serial, reusable until): one atomic store
        self._generation = 0
        self._lock = threading.Lock()

    def expire(self) -> None:
        with self._lock:
            self._generation += 1
            self._cached = (0, float("-inf"))

    def current(self) -> int:
        if self.interval <= 0:
            return self.source()
        now = time.monotonic()
        value, until = self._cached
        if now < until:
            return value
        generation = self._generation
        value = self.source()
        with self._lock:
            if generation == self._generation:
                self._cached = (value, now + self.interval)
        return value


class ChangeWindow:
    """The writes this process makes while a rebuild runs, last one per filename."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changes: dict[str, tuple[Package, bool]] | None = None

    def open(self) -> None:
        with self._lock:
            self._changes = {}

    def record(self, package: Package, *, deleted: bool) -> None:
        with self._lock:
            if self._changes is not None:
                self._changes[package.filename] = (package, deleted)

    def close(self) -> list[tuple[Package, bool]]:
        with self._lock:
            changes, self._changes = self._changes or {}, None
        return list(changes.values())


class _seekable:
    """Context manager giving a seekable copy of a stream (zip needs to seek)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.copy: IO[bytes] | None = None

    def __enter__(self) -> BinaryIO:
        if _is_seekable(self.stream):
            return self.stream
        self.copy = tempfile.SpooledTemporaryFile(max_size=SPOOL_LIMIT)
        while chunk := self.stream.read(CHUNK):
            self.copy.write(chunk)
        self.copy.seek(0)
        return self.copy  # type: ignore[return-value]

    def __exit__(self, *exc: object) -> None:
        if self.copy is not None:
            self.copy.close()


def _is_seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError):
        return False
