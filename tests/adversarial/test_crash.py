"""Crash safety: a server killed with SIGKILL mid-upload, and storage diverged on purpose."""

from __future__ import annotations

import hashlib
import json
import socket
import sqlite3
import time

import pytest

from tests.adversarial.wire import SIMPLE_JSON, basic, post_upload, request, upload_body
from tests.dists import wheel_bytes, wheel_name


def package_files(storage) -> set[str]:
    return {
        str(p.relative_to(storage))
        for p in storage.rglob("*")
        if p.is_file() and ".incoming" not in p.parts
    }


def temporaries(storage) -> list[str]:
    incoming = storage / ".incoming"
    return sorted(p.name for p in incoming.iterdir()) if incoming.exists() else []


def listed(port: int, project: str) -> dict[str, str]:
    status, body, _ = request(port, "GET", f"/simple/{project}/", SIMPLE_JSON)
    if status == 404:
        return {}
    assert status == 200, (status, body[:300])
    return {f["filename"]: f["hashes"]["sha256"] for f in json.loads(body)["files"]}


def big_wheel(version: str, size: int) -> bytes:
    """A wheel with ``size`` random (incompressible) bytes in it: slow enough to write that
    a kill lands in the middle."""
    import io
    import random
    import zipfile

    buffer = io.BytesIO(wheel_bytes("crashy", version))
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_STORED) as archive:
        archive.writestr("crashy/noise.bin", random.Random(version).randbytes(size))
    return buffer.getvalue()


def send_partially(port: int, body: bytes, content_type: str, fraction: float) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    head = (
        f"POST /simple/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nAuthorization: {basic()['Authorization']}\r\n\r\n"
    ).encode()
    sock.sendall(head + body[: int(len(body) * fraction)])
    return sock


@pytest.mark.parametrize(
    ("fraction", "pause"),
    [(0.5, 0.0), (1.0, 0.0), (1.0, 0.05), (1.0, 0.3)],
    ids=["mid-body", "body-sent", "while-storing", "late"],
)
def test_sigkill_during_an_upload(live_server, fraction, pause):
    server = live_server()
    # Acknowledged before the crash: must survive it byte for byte.
    kept = {v: wheel_bytes("crashy", v) for v in ("0.1", "0.2")}
    for version, content in kept.items():
        assert (
            post_upload(server.port, "crashy", version, wheel_name("crashy", version), content)[0]
            == 200
        )
    victim = big_wheel("9.9", 6 * 1024 * 1024)
    filename = wheel_name("crashy", "9.9")
    body, content_type = upload_body("crashy", "9.9", filename, victim)
    sock = send_partially(server.port, body, content_type, fraction)
    time.sleep(pause)
    server.kill()
    sock.close()
    # After the crash: either the upload is complete (it won the race with the kill) or it
    # left nothing at all beside the packages.
    files = package_files(server.storage)
    complete = f"crashy/9.9/{filename}" in files
    if complete:
        data = (server.storage / "crashy" / "9.9" / filename).read_bytes()
        assert data == victim  # never a partial file under the final name
    assert all(not name.startswith(".") for name in (p.split("/")[-1] for p in files))
    server.start()
    time.sleep(0.2)
    assert temporaries(server.storage) == []  # the dead process's temporaries are gone
    index = listed(server.port, "crashy")
    for version, content in kept.items():
        name = wheel_name("crashy", version)
        assert index[name] == hashlib.sha256(content).hexdigest()
        status, data, _ = request(server.port, "GET", f"/api/package/crashy/{name}")
        assert status == 200 and data == content
    if filename in index:
        # Recorded only if its file is complete (the record follows the file, never leads).
        assert complete and index[filename] == hashlib.sha256(victim).hexdigest()
    # And the same upload succeeds (or is already there, identical) after the restart.
    status, _ = post_upload(server.port, "crashy", "9.9", filename, victim)
    assert status == 200
    assert listed(server.port, "crashy")[filename] == hashlib.sha256(victim).hexdigest()


def test_a_temporary_of_a_dead_process_goes_at_start(live_server):
    server = live_server()
    incoming = server.storage / ".incoming"
    incoming.mkdir(exist_ok=True)
    from pypicloud.storage.temporaries import temporary_name

    dead = incoming / temporary_name(pid=2**22 + 12345)  # no such pid
    dead.write_bytes(b"half an upload")
    server.kill()
    server.start()
    assert not dead.exists()


def _rebuild(server) -> None:
    status, body, _ = request(server.port, "POST", "/admin/rebuild", basic("alice"))
    assert status in (200, 202), (status, body)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, body, _ = request(server.port, "GET", "/admin/rebuild/status", basic("alice"))
        state = json.loads(body)
        if not state.get("running"):
            return
        time.sleep(0.1)
    raise AssertionError("rebuild did not finish")


def test_diverged_storage_and_database_are_reconciled(live_server):
    server = live_server()
    content = {v: wheel_bytes("drift", v) for v in ("1.0", "2.0", "3.0")}
    for version, data in content.items():
        assert (
            post_upload(server.port, "drift", version, wheel_name("drift", version), data)[0] == 200
        )
    gone_file = wheel_name("drift", "1.0")
    gone_record = wheel_name("drift", "2.0")
    # Behind the server's back: a file removed from storage, a record from the database.
    (server.storage / "drift" / "1.0" / gone_file).unlink()
    (server.storage / "drift" / "1.0" / (gone_file + ".meta")).unlink()
    with sqlite3.connect(server.root / "db.sqlite") as db:
        db.execute("DELETE FROM packages WHERE filename = ?", (gone_record,))
    # A download of the missing file is a 404, with a warning in the log, not a 500.
    status, body, _ = request(server.port, "GET", f"/api/package/drift/{gone_file}")
    assert status == 404, (status, body[:300])
    assert b"Traceback" not in body
    time.sleep(0.2)
    warnings = [line for line in server.log.splitlines() if line.startswith("WARNING")]
    assert any(gone_file in line for line in warnings), warnings
    _rebuild(server)
    index = listed(server.port, "drift")
    assert set(index) == {wheel_name("drift", "2.0"), wheel_name("drift", "3.0")}
    for version in ("2.0", "3.0"):
        name = wheel_name("drift", version)
        assert index[name] == hashlib.sha256(content[version]).hexdigest()
        status, data, _ = request(server.port, "GET", f"/api/package/drift/{name}")
        assert status == 200 and data == content[version]


def test_a_missing_metadata_file_is_a_404_not_a_500(live_server):
    server = live_server()
    data = wheel_bytes("lost", "1.0")
    name = wheel_name("lost", "1.0")
    assert post_upload(server.port, "lost", "1.0", name, data)[0] == 200
    (server.storage / "lost" / "1.0" / name).unlink()
    for path in (f"/api/package/lost/{name}", f"/api/package/lost/{name}.metadata"):
        status, body, _ = request(server.port, "HEAD" if False else "GET", path)
        assert status in (200, 404), (path, status)
        assert b"Traceback" not in body
