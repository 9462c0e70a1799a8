"""The permission matrix: identity × grant × default × endpoint, against every backend.

Expected answers come from a model of the rules written here, apart from the evaluator:
a user who may read gets 200; an anonymous request that may not gets 401 with a challenge;
a signed-in user who may not gets exactly what a missing project gets (no leak); a listing
holds exactly the readable projects; writes answer 200, 401 or 403.
"""

from __future__ import annotations

import pytest

from pypicloud.throttle import LoginThrottle
from tests.dists import wheel_bytes, wheel_name
from tests.fixtures.access import app_over
from tests.functional.access import world
from tests.functional.conftest import auth, upload

BACKENDS = ["config", "sql_sqlite", "sql_postgresql", "sql_mysql", "ldap", "remote", "aws"]
DEFAULTS = {
    "private": {"pypi.default_read": "authenticated", "pypi.default_write": "devs"},
    "public": {"pypi.default_read": "everyone", "pypi.default_write": ""},
}
PROJECTS = ["open-pkg", "carols-pkg", "secret"]
IDENTITIES = [None, "alice", "bob", "carol", "dave", "wrong-password"]
READ_ENDPOINTS = [
    "/simple/{p}/",
    "/simple/{p}/?format=application/vnd.pypi.simple.v1+json",
    "/pypi/{p}/",
    "/pypi/{p}/json",
    "/pypi/{p}/1.0/json",
    "/api/package/{p}/",
    "/api/package/{p}/{p_}-1.0-py3-none-any.whl",
    "/api/package/{p}/{p_}-1.0-py3-none-any.whl.metadata",
    "/project/{p}/",
]


def groups_of(user: str) -> set[str]:
    return {g for g, members in world.GROUPS.items() if user in members}


def principals(user: str | None) -> set[str]:
    if user is None or user not in world.USERS:
        return {"everyone"}
    return {"everyone", "authenticated", f"user:{user}"} | {f"group:{g}" for g in groups_of(user)}


def as_principal(group: str) -> str:
    return group if group in ("everyone", "authenticated") else f"group:{group}"


def may(user: str | None, project: str, write: bool, defaults: dict[str, str]) -> bool:
    if user in world.ADMINS:
        return True
    held = principals(user)
    grants = world.GRANTS.get(project)
    if grants:
        allowed = {
            (f"user:{name}" if kind == "user" else as_principal(name))
            for (kind, name), mode in grants.items()
            if mode == "rw" or not write
        }
        return bool(held & allowed)
    writers = {as_principal(g) for g in defaults["pypi.default_write"].split()}
    readers = {as_principal(g) for g in defaults["pypi.default_read"].split()} | writers
    return bool(held & (writers if write else readers))


def headers(user: str | None) -> dict[str, str]:
    if user is None:
        return {}
    if user == "wrong-password":
        return auth("bob", "not-the-password")
    return auth(user, world.PASSWORD)


@pytest.fixture(params=BACKENDS)
def backend_settings(request) -> dict[str, str]:
    return request.getfixturevalue(f"{request.param}_access_settings")


@pytest.mark.parametrize("default", sorted(DEFAULTS))
def test_matrix(backend_settings, default, tmp_path):
    defaults = DEFAULTS[default]
    app = app_over(backend_settings, tmp_path, **defaults)
    # Wrong passwords are part of the matrix: no slow-down for them here (tested apart).
    app.app.registry.services.authenticator.throttle = LoginThrottle(sleep=lambda _: None)
    for project in PROJECTS:
        upload(app, project, "1.0", user="alice", password=world.PASSWORD)
    failures = []

    def check(user, url, expected_status, *, like=None):
        response = app.get(url, headers=headers(user), expect_errors=True)
        if response.status_int != expected_status:
            failures.append(f"{user} GET {url}: {response.status_int}, expected {expected_status}")
        elif expected_status == 401 and "WWW-Authenticate" not in response.headers:
            failures.append(f"{user} GET {url}: 401 without a challenge")
        elif like is not None:
            missing = app.get(like, headers=headers(user), expect_errors=True)
            if (missing.status_int, missing.body) != (response.status_int, response.body):
                failures.append(f"{user} GET {url}: differs from the missing project's answer")

    for user in IDENTITIES:
        known = user in world.USERS
        for project in PROJECTS:
            readable = may(user if known else None, project, False, defaults)
            for pattern in READ_ENDPOINTS:
                url = pattern.format(p=project, p_=project.replace("-", "_"))
                missing = pattern.format(p="no-such-pkg", p_="no_such_pkg")
                if readable:
                    check(user, url, 200)
                elif not known:
                    check(user, url, 401)
                else:
                    check(user, url, 404, like=missing)
        # Listings hold exactly the readable projects.
        anonymous_lists = "everyone" in defaults["pypi.default_read"]
        for url in ("/simple/", "/api/package/", "/"):
            response = app.get(url, headers=headers(user), expect_errors=True)
            if not known and not anonymous_lists and url != "/":  # the home page lists none
                if response.status_int != 401:
                    failures.append(f"{user} GET {url}: {response.status_int}, expected 401")
                continue
            listed = {p for p in PROJECTS if p in response.text}
            wanted = {p for p in PROJECTS if may(user if known else None, p, False, defaults)}
            if listed != wanted:
                failures.append(f"{user} GET {url}: lists {sorted(listed)}, not {sorted(wanted)}")
        # Writes: a new version of each project.
        for project in PROJECTS:
            writable = may(user if known else None, project, True, defaults)
            expected = 200 if writable else (403 if known else 401)
            form = [(":action", "file_upload"), ("name", project), ("version", "2.0")]
            response = app.post(
                "/simple/",
                params=form,
                upload_files=[("content", wheel_name(project, "2.0"), wheel_bytes(project, "2.0"))],
                headers=headers(user),
                expect_errors=True,
            )
            if response.status_int != expected:
                failures.append(f"{user} uploads {project}: {response.status_int}, not {expected}")
            if writable:
                app.delete(
                    f"/api/package/{project}/{wheel_name(project, '2.0')}",
                    headers=auth("alice", world.PASSWORD),
                )
    assert not failures, "\n".join(failures)
