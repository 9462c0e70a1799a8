"""A publisher's claim check and the validation of an admin's definition."""

from __future__ import annotations

import datetime as dt

import pytest

from pypicloud.oidc.publishers import (
    Publisher,
    PublisherError,
    check_definition,
    check_issuer,
    from_json,
)


def publisher(**claims: str) -> Publisher:
    return Publisher("id", "widget", "https://issuer.example", "pypicloud", claims)


def test_every_claim_must_equal_its_value_exactly():
    wanted = publisher(repository="octo/widget", ref="refs/heads/main")
    assert wanted.mismatched_claim({"repository": "octo/widget", "ref": "refs/heads/main"}) is None
    assert wanted.mismatched_claim({"repository": "octo/widget"}) == "ref"
    assert wanted.mismatched_claim({"repository": "Octo/Widget", "ref": "refs/heads/main"}) == (
        "repository"
    )
    assert wanted.mismatched_claim({"repository": "octo/widget", "ref": ["refs/heads/main"]}) == (
        "ref"
    )
    # A prefix or a pattern is no match: values are compared, never interpreted.
    assert wanted.mismatched_claim({"repository": "octo/widget-fork", "ref": "refs/heads/main"})
    numeric = publisher(repository_id="42")
    assert numeric.mismatched_claim({"repository_id": 42}) == "repository_id"


@pytest.mark.parametrize(
    ("issuer", "allow_http", "ok"),
    [
        ("https://token.actions.githubusercontent.com", False, True),
        ("http://127.0.0.1:8000", False, False),
        ("http://127.0.0.1:8000", True, True),
        ("https://issuer.example/path?x=1", False, False),
        ("https://user:pw@issuer.example", False, False),
        ("file:///etc/passwd", True, False),
        ("", False, False),
        (42, False, False),
    ],
)
def test_issuers(issuer, allow_http, ok):
    if ok:
        assert check_issuer(issuer, allow_http) == issuer
    else:
        with pytest.raises(PublisherError):
            check_issuer(issuer, allow_http)


def definition(**changes):
    data = {"project": "My_Widget", "issuer": "https://issuer.example", "claims": {"sub": "x"}}
    data.update(changes)
    return check_definition(
        {k: v for k, v in data.items() if v is not None},
        default_audience="pypicloud",
        allow_http=False,
    )


def test_a_definition_is_normalized_and_defaults_the_audience():
    project, issuer, audience, claims, description = definition()
    assert (project, audience, claims, description) == ("my-widget", "pypicloud", {"sub": "x"}, "")
    assert definition(audience="ci")[2] == "ci"


@pytest.mark.parametrize(
    "changes",
    [
        {"project": None},
        {"project": "-bad-"},
        {"claims": None},
        {"claims": {}},
        {"claims": ["repository"]},
        {"claims": {"exp": "1"}},
        {"claims": {"jti": "1"}},
        {"claims": {"bad name": "x"}},
        {"claims": {"repository": ""}},
        {"claims": {"repository": None}},
        {"claims": {f"c{i}": "x" for i in range(21)}},
        {"audience": ""},
        {"audience": " padded"},
        {"description": "x" * 201},
        {"unknown": 1},
    ],
)
def test_malformed_definitions_are_refused(changes):
    with pytest.raises(PublisherError):
        definition(**changes)


EXPORTED = {
    "id": "0123abcd",
    "project": "widget",
    "issuer": "https://issuer.example",
    "audience": "ci",
    "claims": {"repository": "octo/widget", "environment": "release"},
    "description": "release CI",
    "created": "2024-05-01T12:30:05+00:00",
}


def imported(entry=EXPORTED, allow_http=False) -> Publisher:
    return from_json(entry, default_audience="pypicloud", allow_http=allow_http)


def test_an_exported_publisher_reads_back_identically():
    publisher = imported()
    assert publisher.as_json() == EXPORTED
    assert publisher.created == dt.datetime(2024, 5, 1, 12, 30, 5, tzinfo=dt.UTC)
    # A hand-written entry: no time yet, the server's audience, a naive time taken as UTC.
    short = {k: v for k, v in EXPORTED.items() if k not in ("audience", "created")}
    assert imported(short).created is None and imported(short).audience == "pypicloud"
    naive = imported({**EXPORTED, "created": "2024-05-01T12:30:05"})
    assert naive.created == publisher.created


@pytest.mark.parametrize(
    "changes",
    [
        {"id": None},
        {"id": ""},
        {"id": "x" * 33},
        {"id": "a/b"},
        {"created": "yesterday"},
        {"created": 42},
        {"issuer": "http://127.0.0.1:9"},
        {"claims": {"aud": "other"}},
        {"unknown": 1},
    ],
)
def test_an_import_refuses_what_the_api_would(changes):
    entry = {k: v for k, v in {**EXPORTED, **changes}.items() if v is not None}
    with pytest.raises(PublisherError):
        imported(entry)


def test_an_entry_must_be_an_object():
    with pytest.raises(PublisherError, match="JSON object"):
        imported(["not", "an", "object"])


def test_http_issuers_import_only_where_allowed():
    entry = {**EXPORTED, "issuer": "http://127.0.0.1:9"}
    assert imported(entry, allow_http=True).issuer == "http://127.0.0.1:9"


@pytest.fixture
def publishing():
    import sqlalchemy as sa

    from pypicloud.access import Access
    from pypicloud.access.config import ConfigAccess
    from pypicloud.access.sql_tokens import SQLTokenStore
    from pypicloud.oidc.options import PublishingOptions
    from pypicloud.oidc.service import TrustedPublishing
    from pypicloud.oidc.store import SQLPublisherStore
    from pypicloud.security import Authenticator
    from pypicloud.settings import Settings

    engine = sa.create_engine("sqlite://")
    tokens = SQLTokenStore(engine)
    authenticator = Authenticator(Access(ConfigAccess.from_settings(Settings({}))), tokens)
    options = PublishingOptions(enabled=True, audience="pypicloud")
    return TrustedPublishing(SQLPublisherStore(engine), tokens, authenticator, options)


def test_a_files_publishers_are_all_checked_and_the_bad_one_named(publishing):
    assert publishing.parse([EXPORTED]) == [imported()]
    second = {**EXPORTED, "id": "other", "claims": {}}
    with pytest.raises(PublisherError, match=r"^publishers\[1\]: claims must be"):
        publishing.parse([EXPORTED, second])
    with pytest.raises(PublisherError, match=r"^publishers\[1\]: id 0123abcd twice"):
        publishing.parse([EXPORTED, EXPORTED])


def test_restore_counts_only_what_changed(publishing):
    assert publishing.restore(publishing.parse([EXPORTED])) == {"publishers restored": 1}
    assert publishing.restore(publishing.parse([EXPORTED])) == {}
    edited = {**EXPORTED, "description": "new"}
    assert publishing.restore(publishing.parse([edited])) == {"publishers updated": 1}
    assert publishing.dump() == [edited]
