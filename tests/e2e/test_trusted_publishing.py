"""Trusted publishing end to end: a real pserve, the local OIDC issuer, the real twine."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from tests.dists import write_dists
from tests.e2e.conftest import run, twine_with_token
from tests.fixtures.oidc import GHA_REQUEST_TOKEN
from tests.functional.conftest import auth
from tests.tools import venv_tool

pytestmark = pytest.mark.e2e


def call(url: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture
def publishing(start_server, oidc_issuer):
    server = start_server(**{"pypi.trusted_publishing": "true", "pypi.oidc_allow_http": "true"})
    status, _ = call(
        f"{server.url}/admin/publishers",
        {
            "project": "ci-widget",
            "issuer": oidc_issuer.url,
            "claims": {"repository": "octo/widget"},
        },
        auth("alice"),
    )
    assert status == 200
    return server


def test_exchange_then_twine_upload(publishing, oidc_issuer, tmp_path):
    server = publishing
    status, audience = call(f"{server.url}/_/oidc/audience")
    assert (status, audience) == (200, {"audience": "pypicloud"})
    oidc = oidc_issuer.sign(aud=audience["audience"])
    status, minted = call(f"{server.url}/_/oidc/mint-token", {"token": oidc})
    assert status == 200 and minted["success"] is True, minted
    twine_with_token(server, minted["token"], write_dists(tmp_path / "dist", "ci-widget", "1.0"))
    _, listed = call(f"{server.url}/api/package/ci-widget/", headers=auth("alice"))
    assert {p["filename"] for p in listed["packages"]} == {
        "ci_widget-1.0-py3-none-any.whl",
        "ci_widget-1.0.tar.gz",
    }
    refused = twine_with_token(
        server, minted["token"], write_dists(tmp_path / "other", "not-widget", "1.0"), check=False
    )
    assert refused.returncode != 0 and "403" in refused.stdout + refused.stderr
    log = (server.root / "server.log").read_text()
    assert minted["token"] not in log and oidc not in log


def test_an_expired_oidc_token_is_refused(publishing, oidc_issuer):
    expired = oidc_issuer.sign(exp=int(time.time()) - 300, iat=int(time.time()) - 900)
    status, answer = call(f"{publishing.url}/_/oidc/mint-token", {"token": expired})
    assert status == 422 and "expired" in answer["message"]
    assert "token" not in answer


def test_uv_publish_with_trusted_publishing(
    publishing, oidc_issuer, start_nginx, nginx_certificate, tmp_path
):
    """uv asks GitHub Actions' token endpoint (here the local issuer), our audience and
    mint-token (over https at the index's host, as uv insists), uploads, then burns it."""
    server = publishing
    proxy = start_nginx([server.port], server.root / "packages")
    files = write_dists(tmp_path / "dist", "ci-widget", "2.0")
    env = {
        "GITHUB_ACTIONS": "true",
        "ACTIONS_ID_TOKEN_REQUEST_URL": f"{oidc_issuer.url}/gha-token?api-version=2.0",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": GHA_REQUEST_TOKEN,
        "SSL_CERT_FILE": str(nginx_certificate.ca),
    }
    result = run(
        [
            venv_tool("uv"),
            "publish",
            "--trusted-publishing",
            "always",
            "--publish-url",
            f"{proxy.url}/simple/",
            *map(str, files),
        ],
        env=env,
    )
    _, listed = call(f"{server.url}/api/package/ci-widget/", headers=auth("alice"))
    assert {p["filename"] for p in listed["packages"]} >= {"ci_widget-2.0-py3-none-any.whl"}
    _, audit = call(f"{server.url}/admin/audit", headers=auth("alice"))
    actions = [entry["action"] for entry in audit["entries"]]
    assert "oidc.exchange" in actions, result.stderr
    assert "oidc.burn" in actions, result.stderr
