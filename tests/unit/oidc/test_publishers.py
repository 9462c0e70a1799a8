"""A publisher's claim check and the validation of an admin's definition."""

from __future__ import annotations

import pytest

from pypicloud.oidc.publishers import (
    Publisher,
    PublisherError,
    check_definition,
    check_issuer,
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
