"""CPU cost of the observe tween (metrics and the audit actor) per request, in-process.

Builds the app twice over the same file storage and SQLite (``pypi.metrics = off``, then
``everyone``), calls the WSGI app directly for ``--requests`` anonymous requests of
``/simple/`` (a cached page) and ``/health/live``, and prints the process CPU time per
request of each, so other load on the machine does not skew the comparison.

    .venv/bin/python bench/metrics_overhead.py --requests 5000
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pypicloud import (
    make_config,  # noqa: E402
    wsgi_app,
)


def app_for(directory: str, mode: str):
    settings = {
        "storage.dir": f"{directory}/packages",
        "db.url": f"sqlite:///{directory}/db.sqlite",
        "pypi.default_read": "everyone",
        "pypi.metrics": mode,
    }
    config = make_config(settings, here=directory, environ={})
    config.registry.services.packages.rebuilder.wait()
    return wsgi_app(config)


def call(app, path: str) -> None:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_ACCEPT": "text/html",
    }
    body = app(environ, lambda status, headers, exc_info=None: None)
    for _ in body:
        pass
    getattr(body, "close", lambda: None)()


def cpu_per_request(app, path: str, count: int) -> float:
    started = time.process_time()
    for _ in range(count):
        call(app, path)
    return (time.process_time() - started) / count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        apps = {mode: app_for(directory, mode) for mode in ("off", "everyone")}
        for path in ("/simple/", "/health/live"):
            for app in apps.values():  # warm the page cache and the code paths
                cpu_per_request(app, path, 200)
            runs: dict[str, list[float]] = {mode: [] for mode in apps}
            for _ in range(5):  # alternating, so drifting load hits both alike
                for mode, app in apps.items():
                    runs[mode].append(cpu_per_request(app, path, args.requests))
            off, on = min(runs["off"]), min(runs["everyone"])
            print(
                f"{path:14} metrics off {off * 1e6:7.1f} us  on {on * 1e6:7.1f} us  "
                f"(+{(on - off) * 1e6:.1f} us, best of 5 x {args.requests}, CPU time)"
            )


if __name__ == "__main__":
    main()
