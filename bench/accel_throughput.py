"""Download throughput of one 50 MB file: nginx with X-Accel-Redirect, nginx alone, the app.

    .venv/bin/python bench/accel_throughput.py [--seconds 10] [--size-mb 50]

Starts production.ini twice on file storage (with ``storage.accel_redirect`` and without)
behind the shipped deploy/nginx.conf (TLS), adds one plain ``location /direct/`` aliased to
the storage directory, and runs ``wrk`` (one connection) on four URLs: through nginx with
the hand-over, nginx serving the file itself, through nginx with the app streaming, and the
app's waitress directly. Prints MB/s, and the app process's CPU seconds per download (CPU
time: other work on the machine moves wall-clock figures).
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.production import AppProcess  # noqa: E402
from tests.fixtures.nginx import SITE, Nginx, make_certificate, render_site  # noqa: E402
from tests.functional.conftest import PASSWORD  # noqa: E402
from tests.tools import free_port  # noqa: E402

FILENAME = "bigpkg-1.0-py3-none-any.whl"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, seconds: int, headers: dict[str, str]) -> tuple[float, int]:
    """(MB/s, requests) of one connection for ``seconds``."""
    args = ["wrk", "-t1", "-c1", f"-d{seconds}s", "--timeout", "30s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    count = re.search(r"(\d+) requests in", out)
    assert rate and count, out
    factor = {"B": 1 / 2**20, "KB": 1 / 2**10, "MB": 1, "GB": 2**10}[rate[2]]
    return float(rate[1]) * factor, int(count[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--size-mb", type=int, default=50)
    options = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    root = Path(tempfile.mkdtemp(prefix="ppc-accel-"))
    storage = root / "packages"
    (storage / "bigpkg" / "1.0").mkdir(parents=True)
    (storage / "bigpkg" / "1.0" / FILENAME).write_bytes(os.urandom(options.size_mb * 2**20))
    env = {"PPC_STORAGE_DIR": str(storage)}
    accel = AppProcess(root, {**env, "PPC_DB_URL": f"sqlite:///{root / 'a.sqlite'}"}, {})
    plain = AppProcess(
        root,
        {**env, "PPC_DB_URL": f"sqlite:///{root / 'b.sqlite'}", "PPC_STORAGE_ACCEL_REDIRECT": ""},
        {},
    )
    apps = [accel.start(), plain.start()]
    tls = make_certificate(root)
    site = render_site(
        SITE,
        tls_port=free_port(),
        http_port=free_port(),
        app_ports=[accel.port],
        storage_dir=storage,
        certificate=tls,
        cache_dir=root / "cache",
    )
    port = int(re.search(r"listen 127.0.0.1:(\d+) ssl", site)[1])  # type: ignore[index]
    # A second server block, the same TLS settings, in front of the streaming app.
    stream_port = free_port()
    streaming = site.split("server {", 2)[2]  # the TLS server block
    streaming = streaming.replace(
        f"listen 127.0.0.1:{port} ssl", f"listen 127.0.0.1:{stream_port} ssl"
    )
    streaming = streaming.replace(
        "proxy_pass http://pypicloud;", f"proxy_pass http://127.0.0.1:{plain.port};"
    )
    direct = f"    location /direct/ {{\n        alias {storage}/;\n    }}\n"
    # Plain HTTP listeners beside the TLS ones, to tell TLS's cost from the rest.
    http_port, stream_http_port = free_port(), free_port()
    site = site.replace(
        f"listen 127.0.0.1:{port} ssl http2;",
        f"listen 127.0.0.1:{port} ssl http2;\n    listen 127.0.0.1:{http_port};",
    )
    streaming = streaming.replace(
        f"listen 127.0.0.1:{stream_port} ssl http2;",
        f"listen 127.0.0.1:{stream_port} ssl http2;\n    listen 127.0.0.1:{stream_http_port};",
    )
    site = site.replace("    location / {", direct + "    location / {", 1)
    site += "server {" + streaming
    nginx = Nginx(root / "nginx", site, port, None).start()
    auth = "Basic " + base64.b64encode(f"bob:{PASSWORD}".encode()).decode()
    headers = {"Authorization": auth}
    path = f"/api/package/bigpkg/{FILENAME}"
    cases = [
        ("TLS: nginx + X-Accel", f"https://localhost:{port}{path}", accel),
        ("TLS: nginx the file", f"https://localhost:{port}/direct/bigpkg/1.0/{FILENAME}", accel),
        ("TLS: nginx -> app", f"https://localhost:{stream_port}{path}", plain),
        ("plain: nginx + X-Accel", f"http://127.0.0.1:{http_port}{path}", accel),
        (
            "plain: nginx the file",
            f"http://127.0.0.1:{http_port}/direct/bigpkg/1.0/{FILENAME}",
            accel,
        ),
        ("plain: nginx -> app", f"http://127.0.0.1:{stream_http_port}{path}", plain),
        ("app (waitress) directly", f"http://127.0.0.1:{plain.port}{path}", plain),
    ]
    try:
        print(f"{options.size_mb} MB file, {options.seconds} s per case, one connection")
        print(f"{'case':28} {'MB/s':>8} {'downloads':>10} {'app CPU s/download':>19}")
        for label, url, app in cases:
            assert app.process is not None
            before = cpu_seconds(app.process.pid)
            rate, count = wrk(url, options.seconds, headers)
            used = cpu_seconds(app.process.pid) - before
            print(f"{label:28} {rate:8.1f} {count:10d} {used / max(count, 1):19.4f}")
    finally:
        nginx.stop()
        for app in apps:
            app.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
