"""``make bench``: this server at scale, with Basic auth on, as pip uses it.

For each data set the files are written straight into the file storage layout (tiny
files and their ``.meta`` sidecars, in /dev/shm when it can: 100,000 take seconds there,
not an upload each), then pserve starts on an empty SQLite database and rebuilds the
index in the background. Measured per set: time until the port answers and until /health
says the index is full, ``wrk`` req/s and p99 on ``/simple/`` and on project pages (cycling
over every project), the same with ``Accept-Encoding: gzip``, a 304 for an unchanged page,
the server's CPU per request (utime+stime from /proc over the requests wrk made), a small
file, and its RSS at the end. With the
300x3 set, nginx (Debian's, unprivileged) serves one of the same files statically, for the
issue's yardsticks: its 304 and its download (its CPU is not measured: 0 in the table).
Needs ``wrk`` and ``nginx`` (Debian packages).

    .venv/bin/python bench/scale.py     # 300x3, 1,000 and 10,000 projects; 100,000 files
    .venv/bin/python bench/scale.py --sets 1000 --seconds 3
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pypicloud.access.passwords import hash_password  # noqa: E402
from tests.e2e.conftest import write_ini  # noqa: E402
from tests.fixtures.nginx import Nginx  # noqa: E402
from tests.tools import free_port, stop_process, venv_tool  # noqa: E402

PASSWORD = "bench-password"
AUTH = "Basic " + base64.b64encode(f"bench:{PASSWORD}".encode()).decode()
TICKS = os.sysconf("SC_CLK_TCK")
#: What pip and uv send: pages over 1 KB come back compressed.
GZIP = {"Accept-Encoding": "gzip"}
#: name -> (projects, files per project)
SETS = {"300x3": (300, 3), "1000": (1_000, 2), "10000": (10_000, 2), "100k-files": (10_000, 10)}


def generate(storage: Path, projects: int, files: int) -> int:
    """Tiny distribution files with sidecars, in FileStorage's layout; how many were made."""
    made = 0
    for index in range(projects):
        name = f"bench-project-{index}"
        for number in range(files):
            version = f"1.{number // 2}"
            filename = (
                f"bench_project_{index}-{version}-py3-none-any.whl"
                if number % 2 == 0
                else f"bench_project_{index}-{version}.tar.gz"
            )
            directory = storage / name / version
            directory.mkdir(parents=True, exist_ok=True)
            content = f"{name} {filename}".encode()
            (directory / filename).write_bytes(content)
            meta = {"hash_sha256": hashlib.sha256(content).hexdigest(), "summary": name}
            (directory / (filename + ".meta")).write_text(json.dumps(meta))
            made += 1
    return made


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_until(check, timeout: float) -> float:
    """Seconds until ``check()`` is true (raises after ``timeout``)."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise SystemExit(f"not ready after {timeout:.0f} s")
        time.sleep(0.02)
    return time.monotonic() - start


def answers(url: str, ready: bool) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except urllib.error.HTTPError:
        return not ready  # 503 while rebuilding: it answers, it is not ready
    except OSError:
        return False


def warm(url: str, paths: list[str], headers: dict[str, str]) -> None:
    """Ask for every page once (8 at a time), so the measurement reads cached pages."""

    def get(path: str) -> None:
        with urllib.request.urlopen(urllib.request.Request(url + path, headers=headers)) as r:
            r.read()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(get, paths))


def wrk(url: str, paths: list[str], seconds: int, workdir: Path, headers: dict[str, str]) -> dict:
    """req/s, p99 (ms) and request count of wrk cycling over ``paths``."""
    script = workdir / "paths.lua"
    quoted = ",".join(json.dumps(p) for p in paths)
    script.write_text(
        f"local paths = {{{quoted}}}\nlocal i = 0\n"
        "request = function()\n  i = i % #paths + 1\n"
        "  return wrk.format(nil, paths[i])\nend\n"
    )
    args = ["wrk", "-t1", "-c8", f"-d{seconds}s", "--latency", "-s", str(script)]
    for key, value in headers.items():
        args += ["-H", f"{key}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{url}{paths[0]}: {errors.group(1)} error responses\n{out}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    count = re.search(r"(\d+) requests in", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {
        "rate": float(rate.group(1)) if rate else 0.0,
        "requests": int(count.group(1)) if count else 0,
        "p99": float(p99.group(1)) * scale[p99.group(2)] if p99 else 0.0,
    }


def measure(name: str, projects: int, files: int, seconds: int, root: Path) -> list[dict]:
    workdir = root / name
    storage = workdir / "packages"
    start = time.monotonic()
    made = generate(storage, projects, files)
    generated = time.monotonic() - start
    port = free_port()
    ini = workdir / "server.ini"
    write_ini(
        ini,
        port,
        {
            "user.bench": hash_password(PASSWORD),
            "auth.admins": "bench",
            "user.alice": None,
            "user.bob": None,
            "pypi.default_read": "authenticated",
        },
    )
    url = f"http://127.0.0.1:{port}"
    with open(workdir / "server.log", "wb") as log:
        process = subprocess.Popen(
            [venv_tool("pserve"), str(ini)], stdout=log, stderr=subprocess.STDOUT, cwd=workdir
        )
    rows: list[dict] = []
    try:
        serving = wait_until(lambda: answers(url + "/health/live", ready=False), 60)
        indexed = wait_until(lambda: answers(url + "/health", ready=True), 600) + serving
        row = {"set": name, "files": made, "generate_s": generated}
        row.update(serving_s=serving, indexed_s=indexed)
        if name != "100k-files":
            headers = {"Authorization": AUTH, "Accept": "text/html"}
            pages = [f"/simple/bench-project-{i}/" for i in range(projects)]
            etag = etag_of(url + pages[7])
            file_path = "/api/package/bench-project-7/bench_project_7-1.0-py3-none-any.whl"
            for label, paths, extra in (
                ("/simple/", ["/simple/"], {}),
                ("/simple/ gzip", ["/simple/"], GZIP),
                ("/simple/<p>/", pages, {}),
                ("/simple/<p>/ JSON", pages, {"Accept": "application/vnd.pypi.simple.v1+json"}),
                ("/simple/<p>/ gzip", pages, GZIP),
                ("304 /simple/<p>/", [pages[7]], {"If-None-Match": etag}),
                ("file (small)", [file_path], {}),
            ):
                if "If-None-Match" not in extra:
                    warm(url, paths, {**headers, **extra})
                before = cpu_seconds(process.pid)
                result = wrk(url, paths, seconds, workdir, {**headers, **extra})
                used = cpu_seconds(process.pid) - before
                result["cpu_ms"] = used * 1000 / max(result["requests"], 1)
                rows.append({"set": name, "url": label, **result})
            if name == "300x3":
                rows += nginx_reference(workdir, storage, seconds)
        row["rss_mb"] = rss_mb(process.pid)
        rows.insert(0, row)
    finally:
        stop_process(process)
    return rows


def nginx_reference(workdir: Path, storage: Path, seconds: int) -> list[dict]:
    """nginx (Debian's, unprivileged, one worker) serving one of the same stored files as a
    static file: the 304 for it and its download, the yardsticks the issue names."""
    stored = next(p for p in sorted(storage.rglob("*.whl")))
    root = workdir / "nginx"
    root.mkdir()
    port = free_port()
    site = (
        f"server {{\n    listen 127.0.0.1:{port};\n    root {storage};\n"
        "    access_log off;\n    location / { }\n}\n"
    )
    server = Nginx(root, site, tls_port=port, http_port=None).start()
    try:
        url = f"http://127.0.0.1:{port}"
        path = "/" + str(stored.relative_to(storage))
        with urllib.request.urlopen(url + path) as response:
            etag = response.headers["ETag"]
        rows = []
        for label, extra in (
            ("nginx static 304", {"If-None-Match": etag}),
            ("nginx static file", {}),
        ):
            result = wrk(url, [path], seconds, workdir, extra)
            rows.append({"set": "nginx", "url": label, "cpu_ms": 0.0, **result})
        return rows
    finally:
        server.stop()


def etag_of(url: str) -> str:
    request = urllib.request.Request(url, headers={"Authorization": AUTH, "Accept": "text/html"})
    with urllib.request.urlopen(request) as response:
        return response.headers["ETag"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sets", default=",".join(SETS), help=f"of {', '.join(SETS)}")
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per URL")
    parser.add_argument(
        "--root",
        default="/dev/shm" if os.access("/dev/shm", os.W_OK) else None,
        help="where the data sets are written (default: /dev/shm, a tmpfs, if writable)",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    root = Path(tempfile.mkdtemp(prefix="ppc-scale-", dir=args.root))
    results: list[dict] = []
    try:
        for name in args.sets.split(","):
            projects, files = SETS[name]
            results += measure(name, projects, files, args.seconds, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"\n{'set':11} {'files':>7} {'generate s':>10} {'serving s':>9} "
        f"{'indexed s':>9} {'RSS MB':>7}"
    )
    for row in (r for r in results if "files" in r):
        print(
            f"{row['set']:11} {row['files']:7} {row['generate_s']:10.1f} {row['serving_s']:9.2f} "
            f"{row['indexed_s']:9.2f} {row['rss_mb']:7.1f}"
        )
    print(f"\n{'set':11} {'URL (Basic auth)':20} {'req/s':>8} {'p99 ms':>7} {'CPU ms/req':>10}")
    for row in (r for r in results if "url" in r):
        print(
            f"{row['set']:11} {row['url']:20} {row['rate']:8.0f} {row['p99']:7.1f} "
            f"{row['cpu_ms']:10.3f}"
        )


if __name__ == "__main__":
    main()
