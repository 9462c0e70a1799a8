"""The server's RSS through the shared benchmark's phases stays near its start-up size.

A real pserve on the benchmark's ini (one waitress process, default threads): a 21 MB wheel,
bulk uploads from 4 clients, reads of every page and file, then the large file downloaded
again and again. Before the fix the downloads alone grew the process by 64 MB (the access
log and metrics wrapped waitress's file wrapper, so waitress copied every file through its
buffers; and its 4 MB reads stayed in glibc's arenas). RSS is read from /proc: no timing.
"""

from __future__ import annotations

import time
import urllib.request

from tests.functional.conftest import FAST_HASH, auth
from tests.rss import BENCH_USER, bench_ini, pserve, run_sequence
from tests.tools import free_port

#: Growth measured: 5-7 MB for this sequence (64 MB before the fix). The bound leaves room.
MAX_GROWTH_MB = 20
#: The issue's target for the whole benchmark is 80 MB; start-up alone is about 66 MB.
MAX_END_MB = 95


def wait_live(url: str, process) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the server did not become ready")


def test_rss_after_uploads_reads_and_large_downloads_stays_bounded(tmp_path):
    port = free_port()
    bench_ini(tmp_path / "server.ini", port, FAST_HASH)
    url = f"http://127.0.0.1:{port}"
    with pserve(tmp_path, port) as process:
        wait_live(url, process)
        rss = run_sequence(
            url,
            auth(BENCH_USER)["Authorization"],
            process.pid,
            projects=30,
            versions=2,
            reads=1,
            big_downloads=12,
        )
    growth = rss["download_big"] - rss["startup"]
    assert growth < MAX_GROWTH_MB, rss
    assert rss["download_big"] < MAX_END_MB, rss
