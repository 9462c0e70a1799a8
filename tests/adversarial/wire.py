"""Talking to a real server with http.client: uploads and reads, as twine and pip do."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import secrets
from typing import Any

from tests.functional.conftest import PASSWORD


def basic(user: str = "bob", password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def multipart(fields: dict[str, str], filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = "ppc" + secrets.token_hex(12)
    parts = []
    for key, value in fields.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
        parts.append(f"{head}{value}\r\n".encode())
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        + content
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def upload_body(name: str, version: str, filename: str, content: bytes) -> tuple[bytes, str]:
    return multipart(
        {
            ":action": "file_upload",
            "protocol_version": "1",
            "name": name,
            "version": version,
            "filetype": "bdist_wheel" if filename.endswith(".whl") else "sdist",
            "sha256_digest": hashlib.sha256(content).hexdigest(),
        },
        filename,
        content,
    )


def post_upload(
    port: int, name: str, version: str, filename: str, content: bytes, timeout: float = 120
) -> tuple[int, bytes]:
    body, content_type = upload_body(name, version, filename, content)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", "/simple/", body, {"Content-Type": content_type, **basic()})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def request(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 120,
    connection: http.client.HTTPConnection | None = None,
) -> tuple[int, bytes, http.client.HTTPResponse]:
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body, {**basic(), **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read(), response
    finally:
        if own:
            connection.close()


def get_json(port: int, path: str, **kwargs: Any) -> Any:
    status, body, _ = request(port, "GET", path, {"Accept": "application/json"}, **kwargs)
    assert status == 200, (path, status, body[:500])
    return json.loads(body)


SIMPLE_JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}
