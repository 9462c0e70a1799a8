"""Concurrency and load against a real pserve process, with threads and http.client.

Bounded: a fixed number of uploads and a few seconds of reading, whatever the machine.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.adversarial.wire import SIMPLE_JSON, post_upload, request
from tests.dists import wheel_bytes, wheel_name


def stored_files(storage: Path) -> dict[str, bytes]:
    """Every package file in the storage folder (not sidecars, not temporaries)."""
    return {
        str(p.relative_to(storage)): p.read_bytes()
        for p in storage.rglob("*")
        if p.is_file() and not p.name.endswith(".meta") and ".incoming" not in p.parts
    }


def records(port: int, project: str) -> dict[str, str]:
    status, body, _ = request(port, "GET", f"/simple/{project}/", SIMPLE_JSON)
    if status == 404:
        return {}
    assert status == 200, status
    return {f["filename"]: f["hashes"]["sha256"] for f in json.loads(body)["files"]}


def test_fifty_uploads_of_one_filename_leave_exactly_the_winner(live_server):
    server = live_server()
    filename = wheel_name("race", "1.0")
    contents = [wheel_bytes("race", "1.0", summary=f"attempt {i}") for i in range(50)]
    assert len({hashlib.sha256(c).hexdigest() for c in contents}) == 50
    barrier = threading.Barrier(50)

    def attempt(content: bytes) -> int:
        barrier.wait()
        return post_upload(server.port, "race", "1.0", filename, content)[0]

    with ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(attempt, contents))
    winners = [c for c, s in zip(contents, statuses, strict=True) if s == 200]
    assert len(winners) == 1, statuses
    assert sorted(set(statuses)) == [200, 409], statuses
    winner = hashlib.sha256(winners[0]).hexdigest()
    files = stored_files(server.storage)
    assert list(files) == [f"race/1.0/{filename}"]
    assert hashlib.sha256(files[f"race/1.0/{filename}"]).hexdigest() == winner
    assert records(server.port, "race") == {filename: winner}
    meta = json.loads((server.storage / "race" / "1.0" / (filename + ".meta")).read_text())
    assert meta.get("hash_sha256", winner) == winner
    status, body, _ = request(server.port, "GET", f"/api/package/race/{filename}")
    assert status == 200 and body == winners[0]
    assert not list((server.storage / ".incoming").glob("*"))


def test_concurrent_upload_and_delete_stay_consistent(live_server):
    server = live_server()
    versions = [f"1.{i}" for i in range(12)]
    content = {v: wheel_bytes("churn", v) for v in versions}
    stop = time.monotonic() + 4
    errors: list[str] = []

    def uploader() -> None:
        while time.monotonic() < stop:
            for version in versions:
                status, body = post_upload(
                    server.port, "churn", version, wheel_name("churn", version), content[version]
                )
                if status not in (200, 409):
                    errors.append(f"upload {version}: {status} {body[:200]!r}")

    def deleter() -> None:
        while time.monotonic() < stop:
            for version in versions:
                path = f"/api/package/churn/{wheel_name('churn', version)}"
                status, body, _ = request(server.port, "DELETE", path)
                if status not in (200, 204, 404):
                    errors.append(f"delete {version}: {status} {body[:200]!r}")

    threads = [threading.Thread(target=f) for f in (uploader, uploader, deleter, deleter)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:5]
    files = stored_files(server.storage)
    indexed = records(server.port, "churn")
    on_disk = {path.rsplit("/", 1)[1] for path in files}
    assert on_disk == set(indexed), on_disk ^ set(indexed)
    for path, data in files.items():
        assert hashlib.sha256(data).hexdigest() == indexed[path.rsplit("/", 1)[1]]
    sidecars = {p.name.removesuffix(".meta") for p in server.storage.rglob("*.meta")}
    assert sidecars == on_disk  # no sidecar without its file, no file without its sidecar


def test_two_hundred_readers_while_uploading(live_server):
    server = live_server(server_section="connection_limit = 400\nbacklog = 1024")
    versions = [f"2.{i}" for i in range(10)]
    content = {v: wheel_bytes("busy", v) for v in versions}
    digests = {wheel_name("busy", v): hashlib.sha256(c).hexdigest() for v, c in content.items()}
    post_upload(
        server.port, "busy", versions[0], wheel_name("busy", versions[0]), content[versions[0]]
    )
    acknowledged: list[str] = [wheel_name("busy", versions[0])]
    stop = threading.Event()
    errors: list[str] = []
    pages = [0]
    lock = threading.Lock()

    def writer() -> None:
        for version in versions[1:]:
            filename = wheel_name("busy", version)
            status, body = post_upload(server.port, "busy", version, filename, content[version])
            if status != 200:
                errors.append(f"upload {version}: {status} {body[:200]!r}")
            with lock:
                acknowledged.append(filename)
            time.sleep(0.1)
        stop.set()

    def reader(index: int) -> None:
        import http.client

        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        try:
            while not stop.is_set():
                with lock:
                    before = list(acknowledged)
                status, body, _ = request(
                    server.port, "GET", "/simple/busy/", SIMPLE_JSON, connection=connection
                )
                if status != 200:
                    errors.append(f"reader {index}: {status}")
                    return
                page = json.loads(body)
                listed = [f["filename"] for f in page["files"]]
                # Consistent with one moment: uploads happen in order, so the page lists a
                # prefix of them, at least all acknowledged before the request...
                expected = [wheel_name("busy", v) for v in versions[: len(listed)]]
                if listed != expected or len(listed) < len(before):
                    errors.append(f"reader {index}: inconsistent page {listed}")
                # ... with the right digests and a version list that agrees with the files.
                for entry in page["files"]:
                    if entry["hashes"].get("sha256") != digests[entry["filename"]]:
                        errors.append(f"reader {index}: wrong digest for {entry['filename']}")
                if len(page["versions"]) != len(listed):
                    errors.append(f"reader {index}: versions {page['versions']} vs {listed}")
                with lock:
                    pages[0] += 1
                if index % 20 == 0 and listed:  # some readers also download, as pip does
                    newest = listed[-1]
                    status, data, _ = request(
                        server.port,
                        "GET",
                        f"/api/package/busy/{newest}",
                        connection=connection,
                    )
                    if status != 200 or hashlib.sha256(data).hexdigest() != digests[newest]:
                        errors.append(f"reader {index}: download of {newest}: {status}")
        except Exception as exc:  # noqa: BLE001 (every failure is a finding)
            errors.append(f"reader {index}: {exc!r}")
        finally:
            connection.close()

    readers = [threading.Thread(target=reader, args=(i,)) for i in range(200)]
    for thread in readers:
        thread.start()
    writing = threading.Thread(target=writer)
    writing.start()
    writing.join(timeout=240)
    stop.set()
    for thread in readers:
        thread.join(timeout=120)
    assert not errors, (len(errors), errors[:5])
    assert pages[0] >= 200
    final = records(server.port, "busy")
    assert final == digests
