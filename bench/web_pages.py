"""Page weight and server time of the web UI's home page and a project page.

Starts pserve with file storage and SQLite, uploads ``--projects`` tiny wheels through the
upload API, signs in through /acct/login (a session cookie, as a browser has), then times
``--requests`` sequential GETs of each page on loopback and counts the bytes of its HTML and
of the stylesheets it links.

    .venv/bin/python bench/web_pages.py --projects 1000 --requests 200
"""

from __future__ import annotations

import argparse
import base64
import http.cookiejar
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hotpath import upload  # noqa: E402

from tests.e2e.conftest import launch  # noqa: E402
from tests.functional.conftest import PASSWORD  # noqa: E402
from tests.tools import stop_process  # noqa: E402


def sign_in(url: str) -> urllib.request.OpenerDirector:
    """An opener holding bob's session cookie."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    body = json.dumps({"username": "bob", "password": PASSWORD}).encode()
    request = urllib.request.Request(
        url + "/acct/login", data=body, headers={"Content-Type": "application/json"}
    )
    opener.open(request).read()
    return opener


def measure(
    opener: urllib.request.OpenerDirector, url: str, count: int
) -> tuple[int, int, list[float]]:
    """Bytes of the HTML, bytes of its stylesheets, and each request's time in ms."""
    html = opener.open(url).read()
    base = "/".join(url.split("/")[:3])
    css = 0
    for href in set(re.findall(rb'<link rel="stylesheet" href="([^"]+)"', html)):
        css += len(opener.open(base + href.decode()).read())
    times = []
    for _ in range(count):
        start = time.perf_counter()
        opener.open(url).read()
        times.append((time.perf_counter() - start) * 1000)
    return len(html), css, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ppc-web-bench-"))
    server, running = launch(root, {})
    try:
        url = running.url
        auth = "Basic " + base64.b64encode(f"bob:{PASSWORD}".encode()).decode()
        start = time.perf_counter()
        for index in range(args.projects):
            upload(url, auth, f"bench-project-{index}")
        print(f"uploaded {args.projects} projects in {time.perf_counter() - start:.0f} s")
        opener = sign_in(url)
        for page in ("/", "/project/bench-project-7/"):
            html, css, times = measure(opener, url + page, args.requests)
            p95 = statistics.quantiles(times, n=20)[-1]
            print(
                f"{page:28} HTML {html:8} B  CSS {css:6} B  "
                f"median {statistics.median(times):6.1f} ms  p95 {p95:6.1f} ms"
                f"  ({args.requests} requests)"
            )
    finally:
        stop_process(server)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
