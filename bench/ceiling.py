"""How close ``/simple/`` is to what one waitress process can answer at all.

Starts this server on the shared benchmark's ini (one waitress process, default threads),
uploads ``--projects`` projects, then a WSGI app that returns the very same ``/simple/``
bytes without doing anything else, under waitress with the same defaults; measures both
with wrk (1 thread, 8 keep-alive connections, as ``../shared/bench`` does) and prints req/s,
the server's CPU per request, and this server's share of the bare app's rate.

    .venv/bin/python bench/ceiling.py --projects 300 --seconds 8

The bare app is the ceiling for any application in one waitress process: a peer that is
itself served by waitress at a third of it cannot be beaten three times over.
"""

from __future__ import annotations

import argparse
import base64
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.hotpath import cpu_seconds, upload  # noqa: E402
from pypicloud.access.passwords import hash_password  # noqa: E402
from tests.rss import BENCH_USER, bench_ini, pserve  # noqa: E402
from tests.tools import free_port, stop_process, wait_for_port  # noqa: E402

PASSWORD = "benchpw"
BARE = textwrap.dedent(
    """
    import logging, sys
    from waitress import serve
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # 8 connections, 4 threads
    body = open(sys.argv[1], "rb").read()
    headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
    def app(environ, start_response):
        start_response("200 OK", headers)
        return [body]
    serve(app, host="127.0.0.1", port=int(sys.argv[2]), _quiet=True)
    """
)


def measure(url: str, pid: int, seconds: int, auth: str = "") -> tuple[float, float]:
    """(req/s, server CPU ms per request) for wrk on ``url`` after a one-second warm-up."""
    command = ["wrk", "-t1", "-c8", "-H", "Accept: text/html", url]
    if auth:
        command[3:3] = ["-H", f"Authorization: {auth}"]
    subprocess.run([*command[:3], "-d1s", *command[3:]], capture_output=True, check=True)
    before = cpu_seconds(pid)
    out = subprocess.run(
        [*command[:3], f"-d{seconds}s", *command[3:]], capture_output=True, text=True, check=True
    ).stdout
    used = cpu_seconds(pid) - before
    count = int(out.split(" requests in")[0].split()[-1])
    rate = float(out.split("Requests/sec:")[1].split()[0])
    return rate, used * 1000 / max(count, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=300)
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pypicloud-ceiling-") as tmp:
        root = Path(tmp)
        port = free_port()
        bench_ini(root / "server.ini", port, hash_password(PASSWORD))
        url = f"http://127.0.0.1:{port}"
        with pserve(root, port) as server:
            wait_for_port(port, server)
            time.sleep(0.5)  # the start-up rebuild of an empty directory
            auth = "Basic " + base64.b64encode(f"{BENCH_USER}:{PASSWORD}".encode()).decode()
            for index in range(args.projects):
                upload(url, auth, f"ceiling-project-{index}")
            request = urllib.request.Request(url + "/simple/", headers={"Accept": "text/html"})
            page = urllib.request.urlopen(request).read()
            ours = measure(url + "/simple/", server.pid, args.seconds)
            with_auth = measure(url + "/simple/", server.pid, args.seconds, auth)
        (root / "page.html").write_bytes(page)
        bare_port = free_port()
        bare = subprocess.Popen(
            [sys.executable, "-c", BARE, str(root / "page.html"), str(bare_port)]
        )
        try:
            wait_for_port(bare_port, bare)
            ceiling = measure(f"http://127.0.0.1:{bare_port}/simple/", bare.pid, args.seconds)
        finally:
            stop_process(bare)
    print(f"/simple/ of {args.projects} projects, {len(page):,} bytes")
    print(f"{'server':28} {'req/s':>8} {'CPU ms/req':>11}")
    print(f"{'this project':28} {ours[0]:8.0f} {ours[1]:11.3f}")
    print(f"{'this project, Basic auth':28} {with_auth[0]:8.0f} {with_auth[1]:11.3f}")
    print(f"{'bare app, same bytes':28} {ceiling[0]:8.0f} {ceiling[1]:11.3f}")
    print(f"this project at {100 * ours[0] / ceiling[0]:.0f} % of the ceiling")
    print(f"with Basic auth at {100 * with_auth[0] / ceiling[0]:.0f} % of the ceiling")


if __name__ == "__main__":
    main()
