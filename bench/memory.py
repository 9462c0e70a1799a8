"""The server's RSS through the shared benchmark's phases, on its ini (one waitress process,
default threads): start-up, a 21 MB wheel, bulk uploads from 4 clients, reads of every page
and small file, then repeated downloads of the large file. Prints RSS (MB) after each phase.

    .venv/bin/python bench/memory.py        # 300 projects x 3 versions, as ../shared/bench
    .venv/bin/python bench/memory.py --projects 50 --downloads 5
"""

from __future__ import annotations

import argparse
import base64
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pypicloud.access.passwords import hash_password  # noqa: E402
from tests.rss import BENCH_USER, bench_ini, pserve, run_sequence  # noqa: E402
from tests.tools import free_port  # noqa: E402

PASSWORD = "benchpw"


def live(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=300)
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--downloads", type=int, default=40)
    parser.add_argument("--big-mb", type=int, default=21)
    parser.add_argument("--extra", default="", help="more ini lines for [app:main]")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pypicloud-memory-") as tmp:
        root = Path(tmp)
        port = free_port()
        bench_ini(root / "server.ini", port, hash_password(PASSWORD), args.extra)
        url = f"http://127.0.0.1:{port}"
        with pserve(root, port) as process:
            deadline = time.monotonic() + 60
            while not live(url):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit((root / "server.log").read_text())
                time.sleep(0.05)
            authorization = (
                "Basic " + base64.b64encode(f"{BENCH_USER}:{PASSWORD}".encode()).decode()
            )
            print(f"{'phase':14} {'RSS MB':>7}")
            rss = run_sequence(
                url,
                authorization,
                process.pid,
                big_size=args.big_mb * 1024 * 1024,
                projects=args.projects,
                versions=args.versions,
                big_downloads=args.downloads,
                report=lambda label, mb: print(f"{label:14} {mb:7.1f}", flush=True),
            )
            print(f"{'startup':14} {rss['startup']:7.1f} (measured first)")


if __name__ == "__main__":
    main()
