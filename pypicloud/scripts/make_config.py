"""``ppc-make-config``: write a server ini file that starts as written.

Four kinds share one template and differ where deployments differ (paths, address,
logging, cookie security). It asks for the storage, its options and the admin on a
terminal; every answer is also an option, so scripts run it without a terminal (the admin's
password then comes as one line on stdin, or already hashed with ``--password-hash``).
"""

from __future__ import annotations

import argparse
import dataclasses
import secrets
import sys
from pathlib import Path

from pypicloud.access.passwords import hash_password, is_known_hash
from pypicloud.accounts import USERNAME
from pypicloud.scripts.common import fail, run
from pypicloud.scripts.gen_password import read_password

STORAGES = ("file", "s3", "gcs")


@dataclasses.dataclass(frozen=True)
class Kind:
    filename: str
    data: str  # where file storage and SQLite live
    listen: str
    threads: int
    root_level: str
    app_level: str
    secure: bool  # session cookies only over HTTPS
    proxied: bool  # behind a reverse proxy on the same host


KINDS = {
    "development": Kind("development.ini", "%(here)s/data", "localhost:6543", 8, "INFO", "DEBUG",
                        False, False),
    "production": Kind("production.ini", "/var/lib/pypicloud", "0.0.0.0:6543", 16, "WARN", "INFO",
                       True, True),
    "docker": Kind("docker.ini", "/var/lib/pypicloud", "0.0.0.0:8080", 16, "WARN", "INFO",
                   False, False),
    "test": Kind("test.ini", "%(here)s/test-data", "127.0.0.1:6543", 4, "WARN", "WARN",
                 False, False),
}  # fmt: skip


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ppc-make-config",
        description="Write a pypicloud ini file; asks on a terminal what options do not say.",
    )
    kind = p.add_mutually_exclusive_group(required=True)
    for flag, name in (("-d", "development"), ("-p", "production"), ("-r", "docker")):
        kind.add_argument(flag, f"--{name}", dest="kind", action="store_const", const=name)
    kind.add_argument("-t", "--test", dest="kind", action="store_const", const="test")
    p.add_argument("-o", "--output", help="file to write (default: <kind>.ini here)")
    p.add_argument("-f", "--force", action="store_true", help="replace an existing file")
    p.add_argument("--storage", choices=STORAGES, help="where packages live (default: file)")
    p.add_argument("--dir", help="file storage: the directory")
    p.add_argument("--bucket", help="s3, gcs: the bucket")
    p.add_argument("--region", help="s3: the bucket's region")
    p.add_argument("--prefix", help="s3, gcs: a key prefix such as packages/")
    p.add_argument("--admin", help="the admin's user name (default: admin)")
    p.add_argument(
        "--password-hash", help="the admin's password, hashed (ppc-gen-password); else asked"
    )
    return p


def ask(value: str | None, question: str, default: str | None = None) -> str | None:
    """The option's value, else the answer on a terminal, else the default."""
    if value is not None:
        return value
    if not sys.stdin.isatty():
        return default
    shown = f" [{default}]" if default else ""
    answer = input(f"{question}{shown}: ").strip()
    return answer or default


def storage_lines(args: argparse.Namespace, kind: Kind) -> list[str]:
    storage = ask(args.storage, f"Storage ({', '.join(STORAGES)})", "file")
    if storage not in STORAGES:
        fail(f"storage must be one of {', '.join(STORAGES)}, not {storage!r}")
    lines = [f"pypi.storage = {storage}"]
    if storage == "file":
        return [*lines, f"storage.dir = {ask(args.dir, 'Directory', kind.data + '/packages')}"]
    bucket = ask(args.bucket, "Bucket")
    if not bucket:
        fail(f"--bucket is required for {storage} storage")
    lines.append(f"storage.bucket = {escape(bucket)}")
    if storage == "s3":
        region = ask(args.region, "Region (empty: the SDK's default)")
        if region:
            lines.append(f"storage.region_name = {escape(region)}")
    prefix = ask(args.prefix, "Key prefix (empty: none)")
    if prefix:
        lines.append(f"storage.prefix = {escape(prefix)}")
    return lines


def escape(value: str) -> str:
    """ini values are interpolated: a literal % is written %%."""
    return value.replace("%", "%%")


def admin_lines(args: argparse.Namespace) -> list[str]:
    admin = ask(args.admin, "Admin user name", "admin") or "admin"
    if not USERNAME.match(admin):
        fail(f"{admin!r} is not a user name: letters, digits and . _ @ + -")
    if args.password_hash is not None:
        if not is_known_hash(args.password_hash):
            fail("--password-hash is not a password hash (make one with ppc-gen-password)")
        hashed = args.password_hash
    else:
        if sys.stdin.isatty():
            print(f"Password for {admin}", file=sys.stderr)
        hashed = hash_password(read_password())
    return [f"user.{admin} = {escape(hashed)}", f"auth.admins = {admin}"]


def render(args: argparse.Namespace, kind: Kind) -> str:
    server = [f"listen = {kind.listen}", f"threads = {kind.threads}"]
    if kind.proxied:
        server += [
            "trusted_proxy = 127.0.0.1",
            "trusted_proxy_headers = x-forwarded-for x-forwarded-host x-forwarded-proto "
            "x-forwarded-port",
            "clear_untrusted_proxy_headers = true",
        ]
    app = [
        *storage_lines(args, kind),
        "pypi.db = sql",
        f"db.url = sqlite:///{kind.data}/db.sqlite",
        "pypi.auth = config",
        *admin_lines(args),
        "pypi.default_read = authenticated",
        "pypi.default_write = authenticated",
        "",
        "# Random keys of this installation: keep them secret, keep them across restarts.",
        f"session.validate_key = {secrets.token_urlsafe(32)}",
        f"session.secure = {'true' if kind.secure else 'false'}",
        f"auth.signing_key = {secrets.token_urlsafe(32)}",
    ]
    return "\n".join(
        [
            f"# pypicloud {args.kind} configuration, written by ppc-make-config.",
            "# Serve it with: pserve <this file>",
            "",
            "[app:main]",
            "use = egg:pypicloud",
            *app,
            "",
            "[server:main]",
            "use = egg:pypicloud#main",
            *server,
            "",
            LOGGING.format(root=kind.root_level, app=kind.app_level),
        ]
    )


LOGGING = """[loggers]
keys = root, pypicloud

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = {root}
handlers = console

[logger_pypicloud]
level = {app}
handlers =
qualname = pypicloud

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(asctime)s %(levelname)-5.5s [%(name)s] %(message)s
"""


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    kind = KINDS[args.kind]
    output = Path(args.output or kind.filename)
    if output.exists() and not args.force:
        fail(f"{output} exists (use --force to replace it)")
    text = render(args, kind)
    try:
        output.write_text(text)
    except OSError as exc:
        fail(f"{output}: {exc.strerror}")
    print(f"wrote {output}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
