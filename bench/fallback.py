"""Measure what the upstream fallback adds: a cached upstream page, and a first cache fill.

The upstream is a StaticIndex (tests/fixtures/upstream.py) in a child process, so the CPU
time measured here is this server's alone. The app runs in-process (WebTest over file storage
and SQLite). CPU time per request is the comparable figure; wall time is noisy on a shared
machine.

    .venv/bin/python bench/fallback.py --requests 200
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webtest import TestApp  # noqa: E402

from pypicloud import (
    make_config,  # noqa: E402
    wsgi_app,
)
from tests.dists import wheel_name  # noqa: E402
from tests.fixtures.upstream import StaticIndex  # noqa: E402
from tests.functional.conftest import auth, base_settings, upload  # noqa: E402

BOB = auth("bob")


def serve_upstream(count: int, ready: multiprocessing.Queue) -> None:
    index = StaticIndex()
    index.add("dep", "1.0")
    for n in range(count):
        index.add("big", f"1.{n}")
    index.start()
    ready.put(index.port)
    while True:
        time.sleep(3600)


def timed(label: str, app: TestApp, urls: list[str]) -> None:
    cpu, wall = time.process_time(), time.perf_counter()
    for url in urls:
        app.get(url, headers=BOB, status=200)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    n = len(urls)
    print(f"{label:<44} {cpu / n * 1000:7.2f} ms CPU  {wall / n * 1000:7.2f} ms wall  (n={n})")


def app_for(root: Path, upstream: str, max_age: int) -> TestApp:
    settings = base_settings(root)
    settings.update(
        {
            "pypi.fallback": "cache",
            "pypi.fallback_url": upstream,
            "pypi.package_max_age": str(max_age),
        }
    )
    config = make_config(settings, here=str(root), environ={})
    config.registry.services.packages.rebuilder.wait()
    return TestApp(wsgi_app(config))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    n = parser.parse_args().requests
    ready: multiprocessing.Queue = multiprocessing.Queue()
    child = multiprocessing.Process(target=serve_upstream, args=(n, ready), daemon=True)
    child.start()
    upstream = f"http://127.0.0.1:{ready.get(timeout=60)}/simple/"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            app = app_for(Path(tmp), upstream, 300)
            upload(app, "mine", "1.0")
            app.get("/simple/dep/", headers=BOB)
            timed("local project page", app, ["/simple/mine/"] * n)
            timed("upstream page, reused (package_max_age=300)", app, ["/simple/dep/"] * n)
            fresh = app_for(Path(tmp), upstream, 0)
            fresh.get("/simple/dep/", headers=BOB)
            timed("upstream page, revalidated (304 upstream)", fresh, ["/simple/dep/"] * n)
            app.get("/simple/big/", headers=BOB)
            files = [f"/api/package/big/{wheel_name('big', f'1.{i}')}" for i in range(n)]
            timed("first download: fetch, verify, store", app, files)
            timed("download of a cached copy", app, files)
    finally:
        child.terminate()


if __name__ == "__main__":
    main()
