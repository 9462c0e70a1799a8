"""The original pypicloud's JSON layout: read tolerantly, edited strictly."""

from __future__ import annotations

import pytest

from pypicloud.access import acl_json
from pypicloud.access.acl_json import Snapshot
from pypicloud.access.base import UserFacts


def test_an_empty_document_has_every_section():
    assert acl_json.normalized(None) == {
        "users": {},
        "pending_users": {},
        "groups": {},
        "packages": {},
        "admins": [],
        "allow_registration": False,
    }


@pytest.mark.parametrize("raw", [[], {"users": ["ann"]}, {"packages": "x"}])
def test_a_malformed_document_is_refused(raw):
    with pytest.raises(ValueError):
        acl_json.normalized(raw)


def test_spellings_of_one_project_merge_and_write_wins():
    snapshot = Snapshot.of(
        {
            "users": {"ann": "h"},
            "packages": {
                "Foo_Bar": {"users": {"ann": ["read"]}},
                "foo.bar": {"users": {"ann": ["read", "write"]}, "groups": {"x": []}},
                "FOO-BAR": {"users": {"ann": ["read"]}},
            },
        }
    )
    assert snapshot.grants == {"foo-bar": {"user:ann": "rw"}}


def test_admins_and_members_who_are_not_users_are_not_users():
    snapshot = Snapshot.of({"users": {"ann": "h"}, "admins": ["ghost"], "groups": {"g": ["ghost"]}})
    assert snapshot.facts == {"ann": UserFacts("ann")}
    assert snapshot.members == {"g": frozenset({"ghost"})}


def test_a_pending_user_may_be_edited_before_approval():
    doc = acl_json.normalized({"pending_users": {"eve": "old"}, "groups": {"g": []}})
    acl_json.set_password(doc, "eve", "new")
    acl_json.add_member(doc, "g", "eve")
    acl_json.approve_user(doc, "eve")
    assert doc["users"] == {"eve": "new"} and doc["pending_users"] == {}
    assert Snapshot.of(doc).facts["eve"] == UserFacts("eve", frozenset({"g"}))


@pytest.mark.parametrize("principal", ["bob", "user:", "role:x", ""])
def test_a_malformed_principal_is_refused(principal):
    doc = acl_json.normalized({"users": {"bob": "h"}})
    with pytest.raises(ValueError):
        acl_json.set_grant(doc, "p", principal, "r")


def test_a_bad_mode_is_refused():
    doc = acl_json.normalized({"users": {"bob": "h"}})
    with pytest.raises(ValueError):
        acl_json.set_grant(doc, "p", "user:bob", "w")  # type: ignore[arg-type]


def test_revoking_the_last_grant_drops_the_project():
    doc = acl_json.normalized({"users": {"bob": "h"}})
    acl_json.set_grant(doc, "P", "user:bob", "r")
    assert doc["packages"] == {"p": {"users": {"bob": ["read"]}, "groups": {}}}
    acl_json.set_grant(doc, "p", "user:bob", None)
    assert doc["packages"] == {}
