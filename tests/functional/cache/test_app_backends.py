"""The app over each shared package database: uploads, listings, installs, two servers."""

from __future__ import annotations

import pytest

from tests.functional.conftest import auth, upload, within_serial_bound

BACKENDS = ["postgresql", "mysql", "redis", "dynamo"]


@pytest.fixture(params=BACKENDS)
def db_settings(request) -> dict[str, str | None]:
    return request.getfixturevalue(f"{request.param}_db_settings")


@pytest.fixture
def postgresql_db_settings(postgresql_url) -> dict[str, str]:
    return {"pypi.db": "sql", "db.url": postgresql_url}


@pytest.fixture
def mysql_db_settings(mysql_url) -> dict[str, str]:
    return {"pypi.db": "sql", "db.url": mysql_url}


@pytest.fixture
def redis_db_settings(redis_url, redis_prefix) -> dict[str, str]:
    return {"pypi.db": "redis", "db.url": redis_url, "db.redis_prefix": redis_prefix}


@pytest.fixture
def dynamo_db_settings(moto_endpoint, dynamo_namespace) -> dict[str, str | None]:
    host, port = moto_endpoint.removeprefix("http://").split(":")
    return {
        "pypi.db": "dynamo",
        "db.url": None,  # the SQLite default of the other tests
        "db.host": host,
        "db.port": port,
        "db.namespace": dynamo_namespace,
        "db.aws_access_key_id": "testing",
        "db.aws_secret_access_key": "testing",
    }


def test_upload_then_list_and_install_page(make_app, db_settings):
    app = make_app(**db_settings)
    upload(app, "Alpha", "1.0")
    index = app.get("/simple/", headers=auth("bob"))
    assert 'href="http://localhost/simple/alpha/"' in index.text
    page = app.get("/simple/alpha/", headers=auth("bob"))
    assert "alpha-1.0-py3-none-any.whl" in page.text


def test_two_servers_on_one_database_see_each_others_uploads(make_app, db_settings):
    first, second = make_app(**db_settings), make_app(**db_settings)
    assert "beta" not in second.get("/simple/", headers=auth("bob")).text
    upload(first, "beta", "2.0")
    within_serial_bound(lambda: "beta" in second.get("/simple/", headers=auth("bob")).text)
    assert "beta-2.0" in second.get("/simple/beta/", headers=auth("bob")).text
