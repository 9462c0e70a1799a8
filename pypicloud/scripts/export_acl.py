"""``ppc-export``: save users (with password hashes), groups, grants, pending registrations,
the registration switch, API tokens (sha256 digests, no secrets) and trusted publishers as
gzipped JSON, the original's ``/admin/acl.json.gz`` layout plus ``tokens`` and
``publishers``, so they can move to another access backend (``ppc-import``) or be kept as a
backup.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys

from pypicloud.accounts import AccountError
from pypicloud.scripts.common import fail, load_services, run


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ppc-export",
        description=(
            "Export the users, groups, grants, API token hashes and trusted publishers "
            "(acl.json.gz)."
        ),
    )
    p.add_argument("config", help="the server's ini file")
    p.add_argument("-o", "--output", default="-", help="file to write; - or none: stdout")
    return p


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    services = load_services(args.config)
    try:
        data = services.accounts.dump()
    except AccountError as exc:
        fail(exc.message)
    body = gzip.compress(json.dumps(data, indent=2, sort_keys=True).encode())
    if args.output == "-":
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
    else:
        try:
            with open(args.output, "wb") as out:
                out.write(body)
        except OSError as exc:
            fail(f"{args.output}: {exc.strerror}")
    print(
        f"exported {len(data['users'])} users, {len(data['pending_users'])} pending, "
        f"{len(data['groups'])} groups, {len(data['tokens'])} tokens, "
        f"{len(data['publishers'])} publishers",
        file=sys.stderr,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
