"""``ppc-migrate old.ini new.ini``: copy every package file and its facts to another storage,
then rebuild the destination's package database.

It goes through the Storage interface only (list, open, upload without overwrite), so any
two backends work. Each copy is verified by its sha256 before it counts; a file the
destination already holds with the same sha256 is skipped, so an interrupted run resumes
where it stopped and a repeated run copies nothing. A destination file with other content is
never overwritten: it is reported as failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from rich.console import Console
from rich.progress import Progress

from pypicloud.models import Package
from pypicloud.scripts.common import load_services, run
from pypicloud.storage import Storage
from pypicloud.storage.base import FileExists, PackageNotStored, ProvenanceStore

CHUNK = 1024 * 1024


class CopyFailed(Exception):
    """This file was not copied; the message says why (the run goes on with the others)."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ppc-migrate",
        description="Copy every package from one storage to another, then rebuild the "
        "destination's package database. Resumable; verified by sha256.",
    )
    p.add_argument("source", help="ini file of the storage to copy from")
    p.add_argument("destination", help="ini file of the storage to copy to")
    return p


@contextmanager
def spooled(storage: Storage, package: Package) -> Iterator[tuple[BinaryIO, str]]:
    """The file's bytes in a local temporary file, and their sha256."""
    digest = hashlib.sha256()
    with tempfile.TemporaryFile() as spool:
        try:
            with storage.open(package) as stream:
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
                    spool.write(chunk)
        except PackageNotStored:
            raise CopyFailed("listed but missing from storage") from None
        spool.seek(0)
        yield spool, digest.hexdigest()


def sha256_of(storage: Storage, package: Package) -> str:
    with spooled(storage, package) as (_, digest):
        return digest


def copy(source: Storage, destination: Storage, package: Package, there: Package | None) -> bool:
    """Copy one file; False when the destination already has the same bytes."""
    with spooled(source, package) as (spool, digest):
        if package.sha256 and package.sha256 != digest:
            raise CopyFailed(f"source sha256 is {digest}, its metadata says {package.sha256}")
        if there is not None:
            if (there.sha256 or sha256_of(destination, there)) == digest:
                return False
            raise CopyFailed("the destination holds a different file of this name")
        provenance = _provenance(source, destination, package)
        data = {**package.data, "hash_sha256": digest}
        if provenance is None:
            data.pop("provenance_sha256", None)  # never claim a provenance it lacks
        record = dataclasses.replace(package, data=data)
        try:
            stored = destination.upload(record, spool, overwrite=False)
        except FileExists:
            raise CopyFailed("the destination got this file meanwhile; run again") from None
    if sha256_of(destination, stored) != digest:
        destination.delete(stored)
        raise CopyFailed("the copy's sha256 differs from the source's; removed it")
    if provenance is not None:
        assert isinstance(destination, ProvenanceStore)
        destination.save_provenance(stored, provenance)
    return True


def _provenance(source: Storage, destination: Storage, package: Package) -> bytes | None:
    """The file's provenance (PEP 740) to copy with it, when both storages keep one."""
    if not package.provenance_sha256 or not isinstance(source, ProvenanceStore):
        return None
    if not isinstance(destination, ProvenanceStore):
        return None
    return source.load_provenance(package)


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    source = load_services(args.source)
    destination = load_services(args.destination)
    known = {p.filename: p for p in source.cache.all_packages()}
    packages = sorted(source.storage.list(known), key=lambda p: p.filename)
    present = {p.filename: p for p in destination.storage.list()}
    copied = skipped = 0
    failed: list[str] = []
    # A bar on a terminal only; print() lines still show above it (rich redirects them).
    console = Console(stderr=True)
    with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("copying", total=len(packages))
        for package in packages:
            progress.update(task, description=package.filename)
            try:
                if copy(
                    source.storage, destination.storage, package, present.get(package.filename)
                ):
                    copied += 1
                else:
                    skipped += 1
            except (CopyFailed, OSError) as exc:
                failed.append(package.filename)
                print(f"failed: {package.filename}: {exc}", file=sys.stderr)
            progress.advance(task)
    count = destination.packages.reload_from_storage()
    print(
        f"copied {copied}, skipped {skipped}, failed {len(failed)}; "
        f"the destination database holds {count} files",
        file=sys.stderr,
    )
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
