"""Trusted publishing through the app: a local OIDC issuer, real SQLite, real signatures.

Each refusal is checked for its status and reason; the minted token is checked to upload
to its project only, to read nothing, to administer nothing, and to stop working when it
expires or its publisher is deleted.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import update

from pypicloud.access.sql_tokens import tokens as tokens_table
from pypicloud.settings import ConfigError
from pypicloud.throttle import LoginThrottle
from tests.functional.cache.test_app_backends import redis_db_settings  # noqa: F401 (fixture)
from tests.functional.conftest import auth, upload

ADMIN = auth("alice")


class RecordingThrottle(LoginThrottle):
    """Counts failures without sleeping (the delays themselves are tests/unit/test_throttle)."""

    def __init__(self) -> None:
        super().__init__(sleep=lambda seconds: None)
        self.failures: list[tuple[str, str | None]] = []

    def failed(self, username: str, address: str | None) -> float:
        self.failures.append((username, address))
        return super().failed(username, address)


@pytest.fixture
def tp(make_app, oidc_issuer):
    app = make_app(**{"pypi.trusted_publishing": "true", "pypi.oidc_allow_http": "true"})
    services = app.app.registry.services
    services.authenticator.throttle = RecordingThrottle()
    upload(app, "widget", "0.1")  # bob (devs) may write everything by default
    upload(app, "secret", "1.0")
    upload(app, "other", "1.0")
    publisher = app.post_json(
        "/admin/publishers",
        {
            "project": "Widget",
            "issuer": oidc_issuer.url,
            "claims": {"repository": "octo/widget", "environment": "release"},
        },
        headers=ADMIN,
    ).json
    app.publisher = publisher
    app.issuer = oidc_issuer
    app.services = services
    return app


def mint(app, token, status=200):
    return app.post_json("/_/oidc/mint-token", {"token": token}, status=status).json


def as_token(secret: str) -> dict[str, str]:
    return auth("__token__", secret)


def unsigned(header: dict, claims: dict, sign=None) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    return head + "." + (b64(sign(head.encode())) if sign else "")


def test_audience_and_off_by_default(make_app, tp):
    assert tp.get("/_/oidc/audience").json == {"audience": "pypicloud"}
    off = make_app()
    off.get("/_/oidc/audience", status=404)
    off.post_json("/_/oidc/mint-token", {"token": "x"}, status=404)
    off.get("/admin/publishers", headers=ADMIN, status=404)


def test_admin_registers_lists_and_deletes_publishers(tp):
    created = tp.publisher
    assert created["project"] == "widget" and created["audience"] == "pypicloud"
    assert created["claims"] == {"environment": "release", "repository": "octo/widget"}
    listed = tp.get("/admin/publishers", headers=ADMIN).json["publishers"]
    assert [p["id"] for p in listed] == [created["id"]]
    assert tp.get("/admin/publishers", params={"project": "other"}, headers=ADMIN).json == {
        "publishers": []
    }
    assert tp.get(f"/admin/publishers/{created['id']}", headers=ADMIN).json == created
    tp.get("/admin/publishers", headers=auth("bob"), status=403)
    tp.get("/admin/publishers", status=401)
    bad = [
        {"issuer": tp.issuer.url, "claims": {"a": "b"}},
        {"project": "x", "issuer": "ftp://example.org", "claims": {"a": "b"}},
        {"project": "x", "issuer": tp.issuer.url, "claims": {}},
        {"project": "x", "issuer": tp.issuer.url, "claims": {"aud": "other"}},
        {"project": "x", "issuer": tp.issuer.url, "claims": {"a": 1}},
        {"project": "x", "issuer": tp.issuer.url + "?q=1", "claims": {"a": "b"}},
        {"project": "x", "issuer": tp.issuer.url, "claims": {"a": "b"}, "extra": 1},
    ]
    for body in bad:
        tp.post_json("/admin/publishers", body, headers=ADMIN, status=400)
    tp.delete(f"/admin/publishers/{created['id']}", headers=ADMIN)
    tp.delete(f"/admin/publishers/{created['id']}", headers=ADMIN, status=404)
    actions = [e["action"] for e in tp.get("/admin/audit", headers=ADMIN).json["entries"]]
    assert "publisher.create" in actions and "publisher.delete" in actions


def test_https_is_required_unless_allowed(make_app):
    app = make_app(**{"pypi.trusted_publishing": "true"})
    body = {"project": "x", "issuer": "http://127.0.0.1:9", "claims": {"a": "b"}}
    error = app.post_json("/admin/publishers", body, headers=ADMIN, status=400)
    assert "https" in error.text


def test_minted_token_uploads_to_its_project_only(tp, caplog):
    caplog.set_level(logging.DEBUG)
    oidc = tp.issuer.sign()
    answer = mint(tp, oidc)
    assert answer["success"] is True and answer["projects"] == ["widget"]
    now = dt.datetime.now(dt.UTC).timestamp()
    assert now + 800 < answer["expires"] <= now + 901
    token = as_token(answer["token"])
    upload(tp, "widget", "1.0", user="__token__", password=answer["token"])
    upload(tp, "other", "2.0", user="__token__", password=answer["token"], status=403)
    upload(tp, "brand-new", "1.0", user="__token__", password=answer["token"], status=403)
    # Reads nothing, not even its own project, and never learns that "secret" exists.
    tp.get("/simple/secret/", headers=token, status=404)
    tp.get("/simple/widget/", headers=token, status=404)
    tp.get("/pypi/secret/json", headers=token, status=404)
    assert "secret" not in tp.get("/simple/", headers=token, expect_errors=True).text
    tp.get("/admin/publishers", headers=token, status=403)
    tp.get("/admin/audit", headers=token, status=403)
    tp.post_json("/api/tokens", {"scope": "upload"}, headers=token, status=403)
    tp.get("/api/tokens", headers=token, status=403)
    tp.get("/account", headers=token, status=403)
    tp.get("/admin/tokens", headers=token, status=403)
    files = tp.get("/api/package/widget/", headers=ADMIN).json["packages"]
    assert {f["version"] for f in files} == {"0.1", "1.0"}
    entries = tp.get("/admin/audit", headers=ADMIN).json["entries"]
    exchange = next(e for e in entries if e["action"] == "oidc.exchange")
    assert exchange["project"] == "widget" and tp.publisher["id"] in exchange["detail"]
    uploaded = next(
        e for e in entries if e["action"] == "upload" and e["target"].startswith("widget-1.0")
    )
    assert uploaded["actor"] == f"oidc:{tp.publisher['id']}"
    everything = json.dumps(entries) + caplog.text
    assert answer["token"] not in everything and oidc not in everything


def _now() -> int:
    return int(dt.datetime.now(dt.UTC).timestamp())


REFUSALS = [
    (lambda i: i.sign(exp=_now() - 120), "expired"),
    (lambda i: i.sign(nbf=_now() + 600), "not valid yet"),
    (lambda i: i.sign(iat=_now() + 600), "not valid yet"),
    (lambda i: i.sign(aud="someone-else"), "audience"),
    (lambda i: i.sign(aud=None), "lacks the 'aud' claim"),
    (lambda i: i.sign(repository="octo/evil"), "'repository' does not match"),
    (lambda i: i.sign(environment=None), "'environment' does not match"),
    (lambda i: i.sign(jti=None), "lacks the 'jti' claim"),
    (lambda i: i.sign(exp=None), "lacks the 'exp' claim"),
    (lambda i: i.sign(iat=None), "lacks the 'iat' claim"),
    (lambda i: i.sign(kid="unknown-kid"), "no key of the issuer"),
    (lambda i: i.sign(alg="ES256", kid="rsa-1"), "algorithm does not match"),
    (lambda i: "not.a.jwt", "well-formed"),
]


def test_refusals_say_why(tp):
    """Each refusal in turn, with its reason, throttled and audited like a failed login."""
    for count, (make, reason) in enumerate(REFUSALS, start=1):
        answer = mint(tp, make(tp.issuer), status=422)
        assert reason in answer["message"], (reason, answer)
        assert answer["errors"][0]["code"] == "invalid-token"
        failures = tp.services.authenticator.throttle.failures
        assert [key for key, _ in failures] == ["__oidc__"] * count
        failed = tp.get("/admin/audit", params={"action": "oidc.exchange_failed"}, headers=ADMIN)
        assert reason in failed.json["entries"][0]["detail"]


def test_es256_tokens_are_accepted(tp):
    assert mint(tp, tp.issuer.sign(alg="ES256"))["success"] is True


def test_a_bad_signature_is_refused(tp):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(tp.issuer.claims(), other, algorithm="RS256", headers={"kid": "rsa-1"})
    assert "signature is invalid" in mint(tp, forged, status=422)["message"]
    # A valid token with one byte of its signature changed.
    head, body, signature = tp.issuer.sign().split(".")
    flipped = ("A" if signature[5] != "A" else "B").join((signature[:5], signature[6:]))
    assert "signature" in mint(tp, f"{head}.{body}.{flipped}", status=422)["message"]


def test_none_and_hmac_algorithms_are_refused_before_any_key_is_used(tp):
    claims = tp.issuer.claims()
    none = unsigned({"alg": "none", "typ": "JWT"}, claims)
    assert "algorithm is not accepted" in mint(tp, none, status=422)["message"]
    pem = tp.issuer.rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    confused = unsigned(
        {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"},
        claims,
        lambda data: hmac.new(pem, data, hashlib.sha256).digest(),
    )
    assert "algorithm is not accepted" in mint(tp, confused, status=422)["message"]
    assert tp.issuer.requests == []  # nothing was even fetched


def test_unknown_and_wrong_issuers_are_never_contacted(tp):
    for iss in ("http://127.0.0.1:9", tp.issuer.url + "/other", tp.issuer.url + "/"):
        answer = mint(tp, tp.issuer.sign(iss=iss), status=422)
        assert "no publisher trusts the token's issuer" in answer["message"]
    assert tp.issuer.requests == []
    mint(tp, tp.issuer.sign())
    assert tp.issuer.requests == ["/.well-known/openid-configuration", "/jwks"]


def test_a_replayed_token_is_refused(tp):
    oidc = tp.issuer.sign()
    mint(tp, oidc)
    assert "already used" in mint(tp, oidc, status=422)["message"]
    assert mint(tp, tp.issuer.sign())["success"] is True  # a new jti is fine


def test_a_publisher_of_another_project_does_not_open_this_one(tp):
    tp.post_json(
        "/admin/publishers",
        {"project": "other", "issuer": tp.issuer.url, "claims": {"repository": "octo/other"}},
        headers=ADMIN,
    )
    answer = mint(tp, tp.issuer.sign(repository="octo/other", environment=None))
    assert answer["projects"] == ["other"]
    upload(tp, "other", "3.0", user="__token__", password=answer["token"])
    upload(tp, "widget", "3.0", user="__token__", password=answer["token"], status=403)
    nobody = mint(tp, tp.issuer.sign(repository="octo/nobody"), status=422)
    assert nobody["message"].endswith("the token's claims match no publisher")
    # Two publishers that both match: one token for both projects.
    tp.post_json(
        "/admin/publishers",
        {"project": "secret", "issuer": tp.issuer.url, "claims": {"repository_owner": "octo"}},
        headers=ADMIN,
    )
    both = mint(tp, tp.issuer.sign())
    assert both["projects"] == ["secret", "widget"]
    upload(tp, "secret", "2.0", user="__token__", password=both["token"])
    upload(tp, "other", "4.0", user="__token__", password=both["token"], status=403)
    tp.get("/simple/secret/", headers=as_token(both["token"]), status=404)


def test_malformed_requests_are_400(tp):
    for body in ({}, {"token": 5}, {"token": ""}, {"token": "x" * 20000}):
        answer = tp.post_json("/_/oidc/mint-token", body, status=400).json
        assert answer["message"].startswith("Token request failed")
    tp.post("/_/oidc/mint-token", "not json", content_type="application/json", status=400)


def test_minted_tokens_expire(tp):
    answer = mint(tp, tp.issuer.sign())
    engine = tp.services.tokens.engine
    with engine.begin() as conn:
        conn.execute(
            update(tokens_table).values(expires=dt.datetime.now(dt.UTC).replace(tzinfo=None))
        )
    upload(tp, "widget", "2.0", user="__token__", password=answer["token"], status=401)


def test_deleting_the_publisher_revokes_its_tokens(tp):
    answer = mint(tp, tp.issuer.sign())
    upload(tp, "widget", "2.0", user="__token__", password=answer["token"])
    tp.delete(f"/admin/publishers/{tp.publisher['id']}", headers=ADMIN)
    upload(tp, "widget", "2.1", user="__token__", password=answer["token"], status=401)
    assert "no publisher trusts" in mint(tp, tp.issuer.sign(), status=422)["message"]


def test_an_import_that_changes_a_publisher_revokes_its_tokens(tp):
    """ppc-import corrects a publisher to the file's: tokens minted under the old claims go."""
    publishing = tp.services.publishing
    answer = mint(tp, tp.issuer.sign())
    assert publishing.restore(publishing.parse([tp.publisher])) == {}  # identical: kept
    upload(tp, "widget", "2.0", user="__token__", password=answer["token"])
    changed = {**tp.publisher, "claims": {"repository": "octo/widget", "environment": "test"}}
    assert publishing.restore(publishing.parse([changed])) == {"publishers updated": 1}
    upload(tp, "widget", "2.1", user="__token__", password=answer["token"], status=401)
    assert tp.get(f"/admin/publishers/{tp.publisher['id']}", headers=ADMIN).json == changed


def test_users_cannot_pose_as_a_publisher(tp):
    """A token whose owner name looks like a minted token's is never issued to a user."""
    services = tp.services
    with pytest.raises(Exception, match="cannot have API tokens"):
        services.accounts.create_token(f"oidc:{tp.publisher['id']}", scope="upload")


def test_small_clock_skew_is_tolerated(tp):
    """Within pypi.oidc_leeway (30 s by default) of exp, nbf and iat."""
    assert mint(tp, tp.issuer.sign(exp=_now() - 10))["success"] is True
    assert mint(tp, tp.issuer.sign(nbf=_now() + 10, iat=_now() + 10))["success"] is True


def test_burning_a_minted_token_revokes_it_and_nothing_else(tp):
    answer = mint(tp, tp.issuer.sign())
    user_token = tp.post_json("/api/tokens", {"scope": "upload"}, headers=auth("bob")).json
    for body in ({"token": user_token["token"]}, {"token": "ppc_nothing"}, {}, {"token": 3}):
        assert tp.post_json("/_/oidc/burn-token", body, status=202).json == {}
    upload(tp, "other", "5.0", user="__token__", password=user_token["token"])
    upload(tp, "widget", "5.0", user="__token__", password=answer["token"])
    tp.post_json("/_/oidc/burn-token", {"token": answer["token"]}, status=202)
    upload(tp, "widget", "5.1", user="__token__", password=answer["token"], status=401)


def test_it_needs_a_sql_token_store(make_app, redis_db_settings):  # noqa: F811
    with pytest.raises(ConfigError, match="pypi.trusted_publishing.*SQL database"):
        make_app(**redis_db_settings, **{"pypi.trusted_publishing": "true"})


def test_draft_pep_807_discovery(make_app, tp):
    found = tp.get("/.well-known/pytp", params={"discover": "/simple/"}).json
    assert found["audience-endpoint"] == "http://localhost/_/oidc/audience"
    assert found["token-mint-endpoint"] == "http://localhost/_/oidc/mint-token"
    assert found["features"] == ["multi-use-token"]
    assert tp.get(found["audience-endpoint"]).json == {"audience": "pypicloud"}
    for elsewhere in ("/elsewhere/", "", "%2Fsimple%2F"):
        tp.get("/.well-known/pytp", params={"discover": elsewhere}, status=404)
    tp.get("/.well-known/pytp", status=404)
    make_app().get("/.well-known/pytp", params={"discover": "/simple/"}, status=404)
