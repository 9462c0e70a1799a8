"""``ppc-reload``: rebuild the package database from storage, as ``/admin/rebuild`` does,
without a running server (after copying files into storage, or to repair the database).

The default rebuild replaces every record with what storage lists, in one go, reusing a
record the database already has for a file storage did not change (so S3 is not asked for
each object's metadata again). ``--clear`` empties the database first, so every file's facts
are read from storage afresh (core metadata is then re-read from each file when first asked).
"""

from __future__ import annotations

import argparse
import sys

from pypicloud.rebuild import RebuildBusy
from pypicloud.scripts.common import fail, load_services, run


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ppc-reload",
        description="Rebuild the package database (pypi.db) from storage (pypi.storage).",
    )
    p.add_argument("config", help="the server's ini file")
    p.add_argument(
        "--clear",
        action="store_true",
        help="empty the database first: read every file's facts from storage again",
    )
    return p


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    services = load_services(args.config)
    if args.clear:
        services.cache.clear_all()
    try:
        count = services.packages.reload_from_storage()
    except RebuildBusy as exc:
        fail(f"{exc}; try again when it is done")
    projects = len(services.packages.projects())
    print(f"reloaded {count} files of {projects} projects from storage", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
