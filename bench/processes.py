"""One waitress process or several behind nginx: req/s for ``/simple/`` and project pages.

Each process is ``pserve`` on the same ini but its own port, on one shared SQLite database and
file storage (300 projects x 3 files, written straight into the storage layout); nginx
(Debian's, unprivileged, one worker, keep-alive to the upstreams) balances over them. wrk
(8 connections, Basic auth) measures nginx, so 1 process behind nginx is the comparison,
not waitress alone. Needs ``wrk`` and ``nginx``.

    .venv/bin/python bench/processes.py --processes 1,2 --seconds 5
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scale import AUTH, PASSWORD, answers, generate, wait_until, warm, wrk  # noqa: E402
from pypicloud.access.passwords import hash_password  # noqa: E402
from tests.e2e.conftest import write_ini  # noqa: E402
from tests.fixtures.nginx import Nginx  # noqa: E402
from tests.tools import free_port, stop_process, venv_tool  # noqa: E402

PROJECTS = 300


def start_processes(workdir: Path, count: int) -> tuple[list[subprocess.Popen], list[int]]:
    processes, ports = [], []
    extra = {
        "user.bench": hash_password(PASSWORD),
        "auth.admins": "bench",
        "user.alice": None,
        "user.bob": None,
        "pypi.default_read": "authenticated",
        "storage.dir": str(workdir / "packages"),
        "db.url": f"sqlite:///{workdir / 'db.sqlite'}",
    }
    for index in range(count):
        port = free_port()
        ini = workdir / f"server-{index}.ini"
        write_ini(ini, port, extra)
        with open(workdir / f"server-{index}.log", "wb") as log:
            processes.append(
                subprocess.Popen(
                    [venv_tool("pserve"), str(ini)], stdout=log, stderr=subprocess.STDOUT
                )
            )
        ports.append(port)
        # The first one rebuilds the index; the others start on the full database.
        wait_until(lambda p=port: answers(f"http://127.0.0.1:{p}/health", ready=True), 120)
    return processes, ports


def measure(count: int, seconds: int, root: Path) -> list[tuple[str, dict]]:
    workdir = root / f"p{count}"
    generate(workdir / "packages", PROJECTS, 3)
    processes, ports = start_processes(workdir, count)
    port = free_port()
    upstream = "".join(f"    server 127.0.0.1:{p};\n" for p in ports)
    site = (
        f"upstream app {{\n{upstream}    keepalive 16;\n}}\n"
        f"server {{\n    listen 127.0.0.1:{port};\n    access_log off;\n"
        "    location / {\n        proxy_pass http://app;\n        proxy_http_version 1.1;\n"
        '        proxy_set_header Connection "";\n        proxy_set_header Host $http_host;\n'
        "    }\n}\n"
    )
    (workdir / "nginx").mkdir()
    nginx = Nginx(workdir / "nginx", site, tls_port=port, http_port=None).start()
    try:
        url = f"http://127.0.0.1:{port}"
        headers = {"Authorization": AUTH, "Accept": "text/html"}
        pages = [f"/simple/bench-project-{i}/" for i in range(PROJECTS)]
        rows = []
        for label, paths in (("/simple/", ["/simple/"]), ("/simple/<p>/", pages)):
            for _ in range(count):  # every process fills its own caches
                warm(url, paths, headers)
            rows.append((label, wrk(url, paths, seconds, workdir, headers)))
        return rows
    finally:
        nginx.stop()
        for process in processes:
            stop_process(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ppc-processes-"))
    results = []
    try:
        for count in (int(c) for c in args.processes.split(",")):
            results += [(count, label, row) for label, row in measure(count, args.seconds, root)]
            time.sleep(1)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{'processes':>9} {'URL (Basic auth)':20} {'req/s':>8} {'p99 ms':>7}")
    for count, label, row in results:
        print(f"{count:9} {label:20} {row['rate']:8.0f} {row['p99']:7.1f}")


if __name__ == "__main__":
    main()
