"""The real ``twine upload --attestations`` and ``uv publish`` against a real server: each
finds the ``<dist>.<kind>.attestation`` files beside the dists and sends them; the
provenance the index then announces names the file's sha256."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.attestations import SLSA_V1, write_attestation
from tests.dists import write_dists
from tests.e2e.conftest import Server
from tests.e2e.test_clients import twine_upload, uv_publish
from tests.functional.conftest import auth

pytestmark = pytest.mark.e2e
JSON = "application/vnd.pypi.simple.v1+json"


def get(url: str, accept: str = JSON) -> tuple[str, bytes]:
    request = urllib.request.Request(url, headers={**auth("bob"), "Accept": accept})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.headers["Content-Type"], response.read()


def check_provenance(server: Server, project: str, dists: list[Path], kinds: int) -> None:
    """Every dist's entry links a provenance whose statements name its sha256."""
    _type, body = get(f"{server.url}/simple/{project}/")
    entries = {f["filename"]: f for f in json.loads(body)["files"]}
    assert set(entries) == {d.name for d in dists}
    for dist in dists:
        sha256 = hashlib.sha256(dist.read_bytes()).hexdigest()
        url = entries[dist.name]["provenance"]
        assert url == f"{server.url}/integrity/{project}/1.0/{dist.name}/provenance"
        content_type, document = get(url, accept="*/*")
        assert content_type == "application/vnd.pypi.integrity.v1+json"
        [bundle] = json.loads(document)["attestation_bundles"]
        assert bundle["publisher"]["kind"] == "GitHub"
        statements = [
            json.loads(base64.b64decode(a["envelope"]["statement"])) for a in bundle["attestations"]
        ]
        assert len(statements) == kinds
        for statement in statements:
            assert statement["subject"] == [{"name": dist.name, "digest": {"sha256": sha256}}]
    _type, html = get(f"{server.url}/simple/{project}/", accept="text/html")
    assert html.count(b"data-provenance=") == len(dists)


def test_twine_upload_with_attestations(server, tmp_path):
    dists = write_dists(tmp_path / "dist", "twine-attested", "1.0")
    attestations = [write_attestation(d) for d in dists]
    attestations += [write_attestation(d, "slsa", predicate_type=SLSA_V1) for d in dists]
    twine_upload(server, [*dists, *attestations], "--attestations")
    check_provenance(server, "twine-attested", dists, kinds=2)


def test_uv_publish_sends_the_attestation_files_beside_the_dists(server, tmp_path):
    dists = write_dists(tmp_path / "dist", "uv-attested", "1.0")
    attestations = [write_attestation(d) for d in dists]
    uv_publish(server, [*dists, *attestations])
    check_provenance(server, "uv-attested", dists, kinds=1)


def test_a_mismatched_attestation_is_refused_and_nothing_is_stored(server, tmp_path):
    dists = write_dists(tmp_path / "dist", "bad-attested", "1.0")
    wheel = dists[0]
    lie = write_attestation(wheel)
    wheel.write_bytes(wheel.read_bytes() + b"\0")  # the attestation names other bytes
    result = twine_upload(server, [wheel, lie], "--attestations", check=False)
    assert result.returncode != 0
    assert "sha256 does not match" in result.stdout + result.stderr
    request = urllib.request.Request(f"{server.url}/simple/bad-attested/", headers=auth("bob"))
    try:
        urllib.request.urlopen(request, timeout=30)
        raise AssertionError("the project exists")
    except urllib.error.HTTPError as exc:
        assert exc.code == 404
    assert not any((server.root / "packages").glob("**/*.whl*"))
