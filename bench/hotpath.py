"""Measure the hot path: /simple/ and a project page with HTTP Basic auth, as pip asks.

Starts pserve with file storage, SQLite and a real-cost sha512_crypt password, uploads
``--projects`` projects, then runs ``wrk`` (Debian package) against both pages, once with
the password and once with an API token (``__token__``) made through the REST API.

    .venv/bin/python bench/hotpath.py --projects 200 --seconds 10

It prints req/s and the server's CPU per request (utime+stime from /proc over the requests
wrk made), which is what to compare on a machine that other work shares.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pypicloud.access.passwords import hash_password  # noqa: E402
from tests.dists import wheel_bytes, wheel_name  # noqa: E402
from tests.e2e.conftest import launch  # noqa: E402
from tests.tools import stop_process  # noqa: E402

PASSWORD = "bench-password"


def upload(url: str, auth: str, name: str) -> None:
    content = wheel_bytes(name, "1.0")
    boundary = "benchboundary"
    parts = []
    for key, value in ((":action", "file_upload"), ("name", name), ("version", "1.0")):
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
        f'filename="{wheel_name(name, "1.0")}"\r\n\r\n'.encode()
        + content
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        url + "/simple/",
        data=body,
        headers={
            "Authorization": auth,
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    urllib.request.urlopen(request).read()


def make_token(url: str, auth: str) -> str:
    """A read token through the REST API, as the Authorization header that sends it."""
    request = urllib.request.Request(
        url + "/api/tokens",
        data=json.dumps({"scope": "read"}).encode(),
        headers={"Authorization": auth, "Content-Type": "application/json"},
    )
    secret = json.load(urllib.request.urlopen(request))["token"]
    return "Basic " + base64.b64encode(f"__token__:{secret}".encode()).decode()


def cpu_seconds(pid: int) -> float:
    """The server's utime+stime so far (CPU per request is comparable on a busy machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, auth: str, seconds: int, accept: str) -> tuple[float, int]:
    result = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c8",
            f"-d{seconds}s",
            "-H",
            f"Authorization: {auth}",
            "-H",
            f"Accept: {accept}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    count = re.search(r"(\d+) requests in", result.stdout)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    if errors:
        raise SystemExit(f"{url}: {errors.group(1)} error responses\n{result.stdout}")
    return float(match.group(1)) if match else 0.0, int(count.group(1)) if count else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    root = Path(tempfile.mkdtemp(prefix="ppc-bench-"))
    server, running = launch(root, {"user.bench": hash_password(PASSWORD), "auth.admins": "bench"})
    try:
        url = running.url
        auth = "Basic " + base64.b64encode(f"bench:{PASSWORD}".encode()).decode()
        for index in range(args.projects):
            upload(url, auth, f"bench-project-{index}")
        token = make_token(url, auth)
        for label, credentials in (("password", auth), ("token", token)):
            for page in ("/simple/", "/simple/bench-project-7/"):
                for accept in ("text/html", "application/vnd.pypi.simple.v1+json"):
                    wrk(url + page, credentials, 1, accept)  # warm: the password is verified
                    before = cpu_seconds(server.pid)
                    rate, count = wrk(url + page, credentials, args.seconds, accept)
                    cpu_ms = (cpu_seconds(server.pid) - before) * 1000 / max(count, 1)
                    print(
                        f"{page:28} {accept:38} {rate:8.0f} req/s {cpu_ms:6.3f} ms CPU/req "
                        f"(Basic, {label})"
                    )
    finally:
        stop_process(server)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
