"""Measure /simple/ and /simple/<p>/ per package database at ``--projects`` projects.

For each backend (sqlite, postgresql, mysql, redis, dynamo on a local moto server) a fresh
store is filled through the cache API (one file per project; storage is not read by these
pages), then pserve serves it and ``wrk`` asks both pages anonymously (``pypi.default_read =
everyone``: the database is measured, not password checks). Printed per page: req/s (wall
clock, noisy on a shared machine) and the CPU ms per request of the server process (user +
system from /proc, steadier). The database server's own CPU is not in that figure.

    .venv/bin/python bench/backends.py --projects 10000 --seconds 10
    .venv/bin/python bench/backends.py --backends sqlite redis
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from pypicloud.cache import cache_from_settings  # noqa: E402
from pypicloud.models import Package  # noqa: E402
from pypicloud.settings import Settings  # noqa: E402
from tests.dists import wheel_name  # noqa: E402
from tests.e2e.conftest import launch  # noqa: E402
from tests.fixtures.databases import SERVERS  # noqa: E402
from tests.tools import free_port, running, stop_process, venv_tool  # noqa: E402

BACKENDS = ["sqlite", "postgresql", "mysql", "redis", "dynamo"]
PAGES = ("/simple/", "/simple/bench-project-7/")
TICKS = os.sysconf("SC_CLK_TCK")


def records(count: int) -> Iterator[Package]:
    when = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for index in range(count):
        name = f"bench-project-{index}"
        yield Package(
            name,
            "1.0",
            wheel_name(name, "1.0"),
            when,
            f"Project {index}",
            {"hash_sha256": "ab" * 32, "hash_md5": "cd" * 16, "requires_python": ">=3.9"},
        )


@contextlib.contextmanager
def sql_database(kind: str) -> Iterator[str]:
    admin_url = sa.make_url(SERVERS[kind])
    name = f"ppc_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        force = " WITH (FORCE)" if kind == "postgresql" else ""
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}{force}"))
        admin.dispose()


@contextlib.contextmanager
def redis_prefix() -> Iterator[dict[str, str]]:
    import redis

    prefix = f"bench-{uuid.uuid4().hex[:12]}:"
    url = "redis://127.0.0.1:6379/0"
    try:
        yield {"pypi.db": "redis", "db.url": url, "db.redis_prefix": prefix}
    finally:
        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        client.close()


@contextlib.contextmanager
def moto(root: Path) -> Iterator[dict[str, str]]:
    port = free_port()
    workdir = root / "moto"
    workdir.mkdir()
    command = [venv_tool("moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    with running(command, port, workdir):
        yield {
            "pypi.db": "dynamo",
            "db.url": None,  # type: ignore[dict-item]
            "db.host": "127.0.0.1",
            "db.port": str(port),
            "db.region_name": "us-east-1",
            "db.aws_access_key_id": "bench",
            "db.aws_secret_access_key": "bench",
        }


@contextlib.contextmanager
def backend_settings(kind: str, root: Path) -> Iterator[dict[str, str]]:
    if kind == "sqlite":
        yield {"pypi.db": "sql", "db.url": f"sqlite:///{root / 'bench.sqlite'}"}
    elif kind in ("postgresql", "mysql"):
        with sql_database(kind) as url:
            yield {"pypi.db": "sql", "db.url": url}
    elif kind == "redis":
        with redis_prefix() as settings:
            yield settings
    else:
        with moto(root) as settings:
            yield settings


def fill(settings: dict[str, str], count: int) -> float:
    began = time.perf_counter()
    cache = cache_from_settings(Settings({k: v for k, v in settings.items() if v}, environ={}))
    assert cache.reload_from_storage(records(count)) == count
    return time.perf_counter() - began


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def wrk(url: str, seconds: int, pid: int) -> tuple[float, float]:
    """(requests per second, server CPU ms per request)."""
    before = cpu_seconds(pid)
    result = subprocess.run(
        ["wrk", "-t2", "-c8", f"-d{seconds}s", "-H", "Accept: text/html", url],
        capture_output=True,
        text=True,
        check=True,
    )
    spent = cpu_seconds(pid) - before
    if re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout):
        raise SystemExit(f"{url}: error responses\n{result.stdout}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    total = re.search(r"(\d+) requests in", result.stdout)
    count = int(total.group(1)) if total else 0
    return (float(rate.group(1)) if rate else 0.0), (1000 * spent / count if count else 0.0)


def measure(kind: str, projects: int, seconds: int) -> None:
    root = Path(tempfile.mkdtemp(prefix=f"ppc-bench-{kind}-"))
    try:
        with backend_settings(kind, root) as settings:
            filled = fill(settings, projects)
            extra = {**settings, "pypi.default_read": "everyone"}
            server, served = launch(root, extra)
            try:
                for page in PAGES:
                    urllib.request.urlopen(served.url + page).read()  # render once: warm
                    rate, cpu_ms = wrk(served.url + page, seconds, server.pid)
                    print(
                        f"{kind:10} {page:26} {rate:8.0f} req/s {cpu_ms:7.2f} CPU ms/req"
                        f"  (filled {projects} in {filled:.1f} s)",
                        flush=True,
                    )
            finally:
                stop_process(server)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--backends", nargs="*", default=BACKENDS, choices=BACKENDS)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    for kind in args.backends:
        measure(kind, args.projects, args.seconds)


if __name__ == "__main__":
    main()
