"""``ppc-import``: load a ``ppc-export`` file (or the original pypicloud's acl.json.gz) into
the ini file's access backend, its API tokens (by digest) into the token store and its
trusted publishers (by id) into the publisher store. Idempotent: it adds and corrects, never
deletes, and a second run changes nothing.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from typing import Any

from pypicloud.accounts import AccountError
from pypicloud.acl import AclError, summary
from pypicloud.scripts.common import fail, load_services, run


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ppc-import",
        description=(
            "Import users, groups, grants, API token hashes and trusted publishers (acl.json.gz)."
        ),
    )
    p.add_argument("config", help="the server's ini file")
    p.add_argument("-i", "--input", default="-", help="file to read; - or none: stdin")
    return p


def read_document(source: str) -> Any:
    """Gzipped or plain JSON (the original served it gzipped; people gunzip it to edit)."""
    try:
        if source == "-":
            body = sys.stdin.buffer.read()
        else:
            with open(source, "rb") as stream:
                body = stream.read()
    except OSError as exc:
        fail(f"{source}: {exc.strerror}")
    try:
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        return json.loads(body)
    except (OSError, EOFError, ValueError) as exc:
        fail(f"{source}: not gzipped JSON: {exc}")


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    document = read_document(args.input)
    services = load_services(args.config)
    try:
        done = services.accounts.load(
            document, warn=lambda line: print(f"warning: {line}", file=sys.stderr)
        )
    except AclError as exc:
        fail(f"{args.input}: {exc}")
    except AccountError as exc:
        fail(exc.message)
    print(f"imported: {summary(done)}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
