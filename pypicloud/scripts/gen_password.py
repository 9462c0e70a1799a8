"""``ppc-gen-password``: print a password hash for ``user.<name>`` or ``ppc-make-config``.

The password is typed twice without echo, or read as one line from a pipe; never an
argument, so it stays out of shell history and process listings.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import warnings

from passlib.exc import PasslibHashWarning

from pypicloud.access.passwords import DEFAULT_SCHEME, PasswordHasher, context
from pypicloud.scripts.common import fail, run


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ppc-gen-password",
        description="Print a passlib hash of a password typed twice (or one line of stdin).",
    )
    p.add_argument(
        "--scheme", choices=context.schemes(), default=DEFAULT_SCHEME, help="hash scheme"
    )
    p.add_argument("--rounds", type=int, help="rounds (cost) for the scheme; its default if unset")
    return p


def read_password() -> str:
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            fail("the passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        fail("an empty password is not allowed")
    return password


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    password = read_password()
    # passlib only warns about rounds out of range (and clamps them): the user asked for
    # those rounds, so say so instead of quietly hashing with others.
    with warnings.catch_warnings():
        warnings.simplefilter("error", PasslibHashWarning)
        try:
            hashed = PasswordHasher(args.scheme, args.rounds).hash(password)
        except (ValueError, TypeError, KeyError, PasslibHashWarning) as exc:
            fail(f"--rounds {args.rounds} is not valid for {args.scheme}: {exc}")
    print(hashed)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
