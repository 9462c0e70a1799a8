"""Accounts and API tokens with the real clients, against a real server on the sql backend.

Registration → approval → session login → upload through the REST API; then twine and
``uv publish`` with tokens (project-limited ones refused elsewhere, revoked ones refused),
and pip and uv installing with a read token.
"""

from __future__ import annotations

import base64
import http.cookiejar
import json
import urllib.error
import urllib.request

import pytest

from tests.dists import wheel_bytes, wheel_name, write_dists
from tests.e2e.conftest import installed, run
from tests.e2e.conftest import twine_with_token as twine
from tests.tools import venv_tool

pytestmark = pytest.mark.e2e
PW = "a-long-password"


def call(url, method="GET", body=None, user=None, headers=None, opener=None, data=None):
    headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if user is not None:
        name, password = user
        headers["Authorization"] = (
            "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()
        )
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with (opener or urllib.request.build_opener()).open(request, timeout=30) as response:
        text = response.read()
        is_json = response.headers.get_content_type() == "application/json"
    return json.loads(text) if is_json else text.decode()


def status_of(*args, **kwargs) -> int:
    try:
        call(*args, **kwargs)
    except urllib.error.HTTPError as exc:
        return exc.code
    return 200


def multipart(fields: dict[str, str], filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = "e2e-boundary-5f2c"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        + content
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), boundary


@pytest.fixture
def sql_server(start_server):
    return start_server(
        **{
            "pypi.auth": "sql",
            "auth.db.url": "sqlite:///%(here)s/access.sqlite",
            "auth.scheme": "sha256_crypt",
            "auth.rounds": "1000",
            "user.alice": None,
            "user.bob": None,
            "auth.admins": None,
        }
    )


def test_registration_approval_login_upload(sql_server):
    url = sql_server.url
    assert call(f"{url}/api/user/root", "PUT", {"password": PW})["admin"] is True
    call(f"{url}/admin/register", "POST", {"allow": True}, user=("root", PW))
    assert call(f"{url}/api/user/dev", "PUT", {"password": PW})["pending"] is True
    assert status_of(f"{url}/simple/", user=("dev", PW)) == 401
    call(f"{url}/admin/user/dev/approve", "POST", user=("root", PW))
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login = call(f"{url}/acct/login", "POST", {"username": "dev", "password": PW}, opener=browser)
    body, boundary = multipart(
        {"version": "1.0"}, wheel_name("devs-lib", "1.0"), wheel_bytes("devs-lib", "1.0")
    )
    upload_url = f"{url}/api/package/devs-lib/{wheel_name('devs-lib', '1.0')}"
    form = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    assert status_of(upload_url, "POST", data=body, headers=form, opener=browser) == 400
    call(
        upload_url,
        "POST",
        data=body,
        opener=browser,
        headers={**form, "X-CSRF-Token": login["csrf_token"]},
    )
    assert (
        "devs-lib"
        in urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        .open(f"{url}/simple/")
        .read()
        .decode()
    )


def uv_publish(server, token, files, check=True):
    return run(
        [
            venv_tool("uv"),
            "publish",
            "--publish-url",
            f"{server.url}/simple/",
            "--username",
            "__token__",
            "--password",
            token,
            *map(str, files),
        ],
        check=check,
    )


def test_clients_with_tokens(sql_server, tmp_path):
    url = sql_server.url
    call(f"{url}/api/user/root", "PUT", {"password": PW})
    root = ("root", PW)
    ci = call(f"{url}/api/tokens", "POST", {"scope": "upload", "projects": ["corp-lib"]}, user=root)
    reader = call(f"{url}/api/tokens", "POST", {"scope": "read"}, user=root)
    dist = tmp_path / "dist"
    lib_v1 = write_dists(dist, "corp-lib", "1.0")
    lib_v2 = write_dists(dist, "corp-lib", "2.0")
    other = write_dists(dist, "other-lib", "1.0")

    twine(sql_server, ci["token"], lib_v1)
    uv_publish(sql_server, ci["token"], lib_v2)
    refused = twine(sql_server, ci["token"], other, check=False)
    assert refused.returncode != 0 and "403" in refused.stdout + refused.stderr
    refused = uv_publish(sql_server, ci["token"], other, check=False)
    assert refused.returncode != 0 and "403" in refused.stdout + refused.stderr
    refused = twine(sql_server, reader["token"], other, check=False)
    assert refused.returncode != 0  # a read token uploads nothing

    index = f"http://__token__:{reader['token']}@127.0.0.1:{sql_server.port}/simple/"
    pip_target, uv_target = tmp_path / "pip", tmp_path / "uv"
    run(
        [
            venv_tool("pip"),
            "install",
            "--no-cache-dir",
            "--target",
            str(pip_target),
            "--index-url",
            index,
            "corp-lib==2.0",
        ]
    )
    run(
        [
            venv_tool("uv"),
            "pip",
            "install",
            "--no-cache",
            "--target",
            str(uv_target),
            "--python",
            venv_tool("python"),
            "--index-url",
            index,
            "corp-lib",
        ]
    )
    assert installed(pip_target) == installed(uv_target) == {"corp_lib-2.0.dist-info"}

    call(f"{url}/api/tokens/{ci['id']}", "DELETE", user=root)
    refused = twine(sql_server, ci["token"], write_dists(dist, "corp-lib", "3.0"), check=False)
    assert refused.returncode != 0
    listed = call(f"{url}/api/tokens", user=root)["tokens"]
    assert [t["id"] for t in listed] == [reader["id"]] and listed[0]["last_used"]
