"""The shared benchmark's upload-then-read sequence against a real pserve, with its RSS after
each phase: used by ``bench/memory.py`` (the full sequence) and the memory regression test
(a shorter one). RSS is read from /proc, never timed."""

from __future__ import annotations

import hashlib
import http.client
import io
import random
import time
import urllib.parse
import uuid
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.dists import metadata_text, sdist_bytes, sdist_name, wheel_bytes, wheel_name
from tests.tools import stop_process, venv_tool

BENCH_USER = "bench"


def bench_ini(path: Path, port: int, password_hash: str, extra: str = "") -> None:
    """The shared benchmark's ini for this project (the original pypicloud's): waitress with
    its default threads, file storage, SQLite, config users, anonymous read."""
    hashed = password_hash.replace("%", "%%")
    path.write_text(
        "[app:main]\nuse = egg:pypicloud\n"
        "pypi.storage = file\nstorage.dir = %(here)s/packages\n"
        "pypi.db = sql\ndb.url = sqlite:///%(here)s/db.sqlite\n"
        "pypi.auth = config\npypi.default_read = everyone\n"
        "pypi.default_write = authenticated\npypi.allow_overwrite_groups = authenticated\n"
        f"auth.admins = {BENCH_USER}\nuser.{BENCH_USER} = {hashed}\n"
        "pypi.fallback = none\n"
        f"{extra}\n"
        f"[server:main]\nuse = egg:waitress#main\nhost = 127.0.0.1\nport = {port}\n\n"
        "[loggers]\nkeys = root\n[handlers]\nkeys = console\n[formatters]\nkeys = plain\n"
        "[logger_root]\nlevel = WARN\nhandlers = console\n"
        "[handler_console]\nclass = StreamHandler\nargs = (sys.stderr,)\nformatter = plain\n"
        "[formatter_plain]\nformat = %(levelname)s %(name)s %(message)s\n"
    )


@contextmanager
def pserve(root: Path, port: int) -> Iterator[Any]:
    """pserve on ``root/server.ini``, stopped on exit; its output in ``server.log``."""
    import subprocess

    with open(root / "server.log", "wb") as log:
        process = subprocess.Popen(
            [venv_tool("pserve"), str(root / "server.ini")],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
        )
    try:
        yield process
    finally:
        stop_process(process)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def big_wheel(name: str, version: str, size: int) -> bytes:
    """A valid wheel of about ``size`` bytes (random, stored: it does not compress)."""
    dist = name.replace("-", "_")
    payload = random.Random(size).randbytes(size)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{dist}/data.bin", payload)
        archive.writestr(f"{dist}-{version}.dist-info/METADATA", metadata_text(name, version))
        archive.writestr(
            f"{dist}-{version}.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
    return buffer.getvalue()


def multipart(fields: list[tuple[str, str]], filename: str, data: bytes) -> tuple[str, bytes]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
    )
    body = b"".join(parts) + data + f"\r\n--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


class Client:
    """One keep-alive connection, as the benchmark's clients use."""

    def __init__(self, url: str, authorization: str) -> None:
        self.netloc = urllib.parse.urlsplit(url).netloc
        self.authorization = authorization
        self.connection = http.client.HTTPConnection(self.netloc, timeout=120)

    def upload(self, name: str, version: str, filename: str, data: bytes) -> int:
        fields = [
            (":action", "file_upload"),
            ("protocol_version", "1"),
            ("name", name),
            ("version", version),
            ("filetype", "bdist_wheel" if filename.endswith(".whl") else "sdist"),
            ("summary", f"{name} for the memory check"),
            ("description", f"# {name}\n\nlong text\n"),
            ("sha256_digest", hashlib.sha256(data).hexdigest()),
        ]
        content_type, body = multipart(fields, filename, data)
        headers = {"Content-Type": content_type, "Authorization": self.authorization}
        return self.request("POST", "/simple/", body, headers)[0]

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, int]:
        """(status, body length), the body read in 1 MiB pieces and dropped."""
        return self.request("GET", path, None, headers or {})

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, int]:
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        length = 0
        while chunk := response.read(1 << 20):
            length += len(chunk)
        return response.status, length

    def close(self) -> None:
        self.connection.close()


def bulk_files(projects: int, versions: int) -> list[tuple[str, str, str, bytes]]:
    """(name, version, filename, bytes): a wheel and an sdist per release."""
    files = []
    for index in range(projects):
        name = f"mem-project-{index:04d}"
        for minor in range(versions):
            version = f"1.{minor}.0"
            files.append((name, version, wheel_name(name, version), wheel_bytes(name, version)))
            files.append((name, version, sdist_name(name, version), sdist_bytes(name, version)))
    return files


def run_sequence(
    url: str,
    authorization: str,
    pid: int,
    *,
    big_size: int = 21 * 1024 * 1024,
    projects: int = 150,
    versions: int = 3,
    clients: int = 4,
    reads: int = 2,
    big_downloads: int = 20,
    report: Callable[[str, float], None] | None = None,
) -> dict[str, float]:
    """The benchmark's phases in its order; RSS (MB) after each, keyed by phase."""
    rss: dict[str, float] = {"startup": rss_mb(pid)}

    def phase(label: str) -> None:
        rss[label] = rss_mb(pid)
        if report:
            report(label, rss[label])

    client = Client(url, authorization)
    big = big_wheel("mem-big", "1.0.0", big_size)
    status = client.upload("mem-big", "1.0.0", wheel_name("mem-big", "1.0.0"), big)
    assert status == 200, status
    del big
    phase("upload_big")

    files = bulk_files(projects, versions)

    def upload_slice(offset: int) -> list[int]:
        mine = Client(url, authorization)
        try:
            return [mine.upload(*entry) for entry in files[offset::clients]]
        finally:
            mine.close()

    with ThreadPoolExecutor(clients) as pool:
        statuses = [s for part in pool.map(upload_slice, range(clients)) for s in part]
    assert set(statuses) == {200}, sorted(set(statuses))
    phase("upload_bulk")

    pages = ["/simple/"] + [f"/simple/{name}/" for name, *_ in files[:: 2 * versions]]
    small = [f"/api/package/{name}/{filename}" for name, _, filename, _ in files]

    def read_all(part: int) -> None:
        reader = Client(url, "")
        try:
            for _ in range(reads):
                for path in pages[part::clients]:
                    reader.get(path, {"Accept": "text/html"})
                    reader.get(path, {"Accept": "application/vnd.pypi.simple.v1+json"})
                for path in small[part::clients]:
                    assert reader.get(path)[0] == 200
        finally:
            reader.close()

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(read_all, range(clients)))
    phase("reads")

    big_path = f"/api/package/mem-big/{wheel_name('mem-big', '1.0.0')}"
    started = time.perf_counter()
    for _ in range(big_downloads):
        status, length = client.get(big_path)
        assert status == 200 and length >= big_size, (status, length)
    seconds = time.perf_counter() - started
    phase("download_big")
    client.close()
    if report and seconds:  # the large file's throughput, for the benchmark's reader only
        report("download MB/s", big_downloads * big_size / seconds / 1e6)
    return rss
