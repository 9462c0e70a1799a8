"""What production.ini promises: it starts from the environment alone, refuses a missing or
placeholder session key, warns when no one can log in, logs JSON with no secret, keeps
/health's details from anonymous callers, and marks index pages cacheable only when they
are the anonymous view."""

from __future__ import annotations

import configparser
import io
import json
import logging
import os
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from webtest import TestApp

from pypicloud import main, make_config
from pypicloud.cache.sql import SQLCache
from pypicloud.logs import AccessLog, JSONFormatter
from pypicloud.rebuild import LOCK_NAME
from pypicloud.settings import ConfigError
from pypicloud.storage.layout import content_type_for
from tests.dists import wheel_name
from tests.functional.conftest import FAST_HASH, PASSWORD, auth, base_settings, started, upload
from tests.tools import ROOT

KEY = "k" * 40


def production_settings() -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "production.ini")
    return {k: v for k, v in parser["app:main"].items() if k != "use"}


def production_env(tmp_path, **extra: str) -> dict[str, str]:
    return {
        "PPC_STORAGE_DIR": str(tmp_path / "packages"),
        "PPC_DB_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "PPC_SESSION_VALIDATE_KEY": KEY,
        **extra,
    }


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    """Every record of every logger, as production.ini formats them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


# -- the environment fills production.ini in ---------------------------------------------------


def test_production_ini_starts_from_the_environment(tmp_path):
    env = production_env(tmp_path, PPC_PYPI_DEFAULT_READ="everyone")
    config = make_config(production_settings(), here=str(tmp_path), environ=env)
    services = config.registry.services
    assert services.storage.directory == (tmp_path / "packages").resolve()
    assert services.storage.accel_location == "/_pypicloud_files/"
    assert str(services.cache.engine.url).endswith("db.sqlite")
    app = started(config)
    assert app.get("/simple/").status_int == 200  # the environment's default_read


def test_the_environment_switches_accel_redirect_off_for_other_storage(tmp_path):
    env = production_env(tmp_path, PPC_STORAGE_ACCEL_REDIRECT="")
    config = make_config(production_settings(), here=str(tmp_path), environ=env)
    assert config.registry.services.storage.accel_location is None


def test_accel_redirect_with_object_storage_is_refused(tmp_path, s3_settings):
    settings = {**base_settings(tmp_path), "pypi.storage": "s3", **s3_settings}
    settings.pop("storage.dir")
    settings["storage.accel_redirect"] = "/_files/"
    with pytest.raises(ConfigError, match="storage.accel_redirect"):
        make_config(settings, here=str(tmp_path), environ={})


def test_a_missing_session_key_is_refused_in_production(tmp_path):
    env = production_env(tmp_path)
    del env["PPC_SESSION_VALIDATE_KEY"]
    with pytest.raises(ConfigError, match="session.validate_key.*pypi.production"):
        make_config(production_settings(), here=str(tmp_path), environ=env)


def test_a_refused_start_up_leaves_no_rebuild_lock_behind(tmp_path):
    """Found by the Docker test: a start refused for its session key had already begun the
    first rebuild, so its lock and "running" status held the next start's /health at 503."""
    env = production_env(tmp_path)
    del env["PPC_SESSION_VALIDATE_KEY"]
    with pytest.raises(ConfigError):
        make_config(production_settings(), here=str(tmp_path), environ=env)
    time.sleep(0.5)  # a rebuild the refused start began would have taken its lock by now
    cache = SQLCache(sa.create_engine(env["PPC_DB_URL"]))
    assert cache.state(LOCK_NAME) is None  # neither a status nor a lock (held by a dead one)
    assert cache.try_lock(LOCK_NAME, "the next server", 60)


def test_the_refusal_is_one_line_naming_the_key(tmp_path, monkeypatch):
    for name, value in production_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PPC_SESSION_VALIDATE_KEY")
    with pytest.raises(SystemExit) as stopped:
        main({"here": str(tmp_path)}, **production_settings())
    assert str(stopped.value).startswith("pypicloud cannot start: setting 'session.validate_key'")
    assert "\n" not in str(stopped.value)


@pytest.mark.parametrize("placeholder", ["change-me-to-a-long-random-string", "CHANGEME"])
def test_a_placeholder_session_key_is_refused_always(tmp_path, placeholder):
    settings = {**base_settings(tmp_path), "session.validate_key": placeholder}
    with pytest.raises(ConfigError, match="placeholder"):
        make_config(settings, here=str(tmp_path), environ={})


def test_outside_production_a_missing_key_only_warns(tmp_path, caplog):
    # ppc-* commands run in this process (load_services) quieten this logger for good.
    caplog.set_level(logging.WARNING, logger="pypicloud.sessions")
    make_config(base_settings(tmp_path), here=str(tmp_path), environ={})
    assert "session.validate_key is not set" in caplog.text


def test_start_up_warns_when_no_user_can_log_in(tmp_path, caplog):
    make_config(production_settings(), here=str(tmp_path), environ=production_env(tmp_path))
    assert "no user can log in" in caplog.text
    caplog.clear()
    env = production_env(tmp_path)
    make_config({**production_settings(), "user.bob": FAST_HASH}, here=str(tmp_path), environ=env)
    assert "no user can log in" not in caplog.text


def test_an_empty_sql_access_backend_warns_too(tmp_path, caplog):
    settings = {
        **{
            k: v
            for k, v in base_settings(tmp_path).items()
            if not k.startswith(("user.", "group.", "package."))
        },
        "pypi.auth": "sql",
        "auth.db.url": f"sqlite:///{tmp_path / 'access.sqlite'}",
        "auth.admins": "",
    }
    make_config(settings, here=str(tmp_path), environ={})
    assert "no user can log in" in caplog.text


# -- logs --------------------------------------------------------------------------------------


@pytest.fixture
def logged_app(tmp_path, monkeypatch) -> TestApp:
    """The WSGI app as pserve gets it from main(): with its access log."""
    for name in [n for n in os.environ if n.startswith("PPC_")]:
        monkeypatch.delenv(name)
    settings = {
        **{
            k: v
            for k, v in base_settings(tmp_path).items()
            if not k.startswith(("user.", "group.", "package.", "auth.admins"))
        },
        "pypi.auth": "sql",
        "auth.db.url": f"sqlite:///{tmp_path / 'access.sqlite'}",
        "auth.scheme": "sha256_crypt",
        "auth.rounds": "1000",
        "pypi.default_write": "authenticated",
        "session.validate_key": KEY,
    }
    wsgi = main({"here": str(tmp_path)}, **settings)
    wsgi.app.registry.services.packages.rebuilder.wait()
    return TestApp(wsgi)


def records(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_every_log_line_is_one_json_object(logged_app, logged):
    logged_app.get("/simple/", status=401)
    logging.getLogger("pypicloud.test").warning("with %s", "args", extra={"answer": 42})
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("pypicloud.test").exception("failed")
    lines = records(logged)
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    assert {"message": "with args", "answer": 42}.items() <= lines[-2].items()
    assert lines[-1]["level"] == "ERROR" and "ValueError: boom" in lines[-1]["exc"]


def test_access_records_name_the_request_and_never_a_secret(logged_app, logged, tmp_path):
    password = "very-secret-password-1"
    logged_app.put_json("/api/user/root", {"password": password})  # the first user: admin
    basic = auth("root", password)
    token = logged_app.post_json(
        "/api/tokens", {"description": "ci", "scope": "upload"}, headers=basic
    ).json["token"]
    upload(logged_app, "alpha", "1.0", user="__token__", password=token)
    logged_app.get("/simple/alpha/", headers={**basic, "X-Request-ID": "req-1"})
    logged_app.get("/simple/alpha/", headers=auth("root", "wrong-password-2"), status=401)
    # Remembered by now: the front door answers, and still names the user.
    logged_app.get("/simple/alpha/", headers={**auth("__token__", token), "X-Request-ID": "req-2"})
    logged_app.post_json("/acct/login", {"username": "root", "password": password})
    cookie = logged_app.cookies["pypicloud_session"]
    logged_app.get("/simple/alpha/")  # the session cookie
    logged_app.get("/acct/login", params={"token": "signup-secret-3"})
    logged_app.reset()
    name = wheel_name("alpha", "1.0")
    logged_app.get(f"/api/package/alpha/{name}", headers=basic)

    text = logged.getvalue()
    for secret in (password, token, cookie, "wrong-password-2", "signup-secret-3",
                   basic["Authorization"].split()[1]):  # fmt: skip
        assert secret not in text
    access = [r for r in records(logged) if r["logger"] == "pypicloud.access"]
    by_id = {r["request_id"]: r for r in access}
    assert {"method": "GET", "path": "/simple/alpha/", "status": 200, "user": "root"}.items() <= (
        by_id["req-1"].items()
    )
    assert by_id["req-2"]["user"] == "root" and by_id["req-2"]["bytes"] > 0
    assert by_id["req-1"]["duration_ms"] >= 0 and by_id["req-1"]["bytes"] > 0
    assert [r["user"] for r in access if r["status"] == 401] == [None]
    assert [r for r in access if r["path"] == "/acct/login" and r["method"] == "GET"]
    download = [r for r in access if r["path"].endswith(name)]
    assert download[-1]["bytes"] == (tmp_path / "packages" / "alpha" / "1.0" / name).stat().st_size
    assert PASSWORD not in text


def test_the_request_id_is_echoed_or_made(logged_app, logged):
    assert (
        logged_app.get("/health", headers={"X-Request-ID": "abc-1"}).headers["X-Request-ID"]
        == "abc-1"
    )
    made = logged_app.get("/health", headers={"X-Request-ID": "bad id\u00e9"}).headers[
        "X-Request-ID"
    ]
    assert made != "bad id\u00e9" and len(made) == 32
    others = {logged_app.get("/health").headers["X-Request-ID"] for _ in range(3)}
    assert len(others | {made}) == 4  # a new one each time


# -- /health -----------------------------------------------------------------------------------


def test_health_shows_details_to_admins_only(make_app, tmp_path):
    app = make_app()
    (tmp_path / "packages").chmod(0o500)
    try:
        anonymous = app.get("/health", expect_errors=True).json
        admin = app.get("/health", headers=auth("alice"), expect_errors=True).json
    finally:
        (tmp_path / "packages").chmod(0o700)
    assert "message" not in anonymous["storage"] and "message" not in anonymous["cache"]
    assert str(tmp_path) not in json.dumps(anonymous)
    assert "message" in admin["storage"]


# -- index pages' cache headers ----------------------------------------------------------------


def test_anonymous_pages_are_public_when_anonymous_may_read(make_app):
    app = make_app(**{"pypi.default_read": "everyone"})
    upload(app, "alpha", "1.0")
    for url in ("/simple/", "/simple/alpha/"):
        page = app.get(url)
        assert page.headers["Cache-Control"] == "public, max-age=60, stale-while-revalidate=300"
        assert "Authorization" in page.headers["Vary"] and "Cookie" in page.headers["Vary"]
        again = app.get(url, headers={"If-None-Match": page.headers["ETag"]}, status=304)
        assert again.headers["Cache-Control"] == page.headers["Cache-Control"]


def test_signed_in_pages_are_private(make_app):
    app = make_app(**{"pypi.default_read": "everyone"})
    upload(app, "alpha", "1.0")
    for url in ("/simple/", "/simple/alpha/"):
        page = app.get(url, headers=auth("bob"))
        assert page.headers["Cache-Control"] == "private, no-cache"
        assert "Authorization" in page.headers["Vary"]


def test_pages_are_private_when_anonymous_may_not_read(make_app):
    app = make_app()
    upload(app, "alpha", "1.0")
    assert app.get("/simple/alpha/", status=401).headers.get("Cache-Control") is None or (
        "public" not in app.get("/simple/alpha/", status=401).headers["Cache-Control"]
    )
    assert app.get("/simple/alpha/", headers=auth("bob")).headers["Cache-Control"] == (
        "private, no-cache"
    )


def test_the_public_lifetimes_are_settings(make_app):
    app = make_app(**{"pypi.default_read": "everyone", "pypi.index_max_age": "5",
                      "pypi.index_stale_while_revalidate": "7"})  # fmt: skip
    assert app.get("/simple/").headers["Cache-Control"] == (
        "public, max-age=5, stale-while-revalidate=7"
    )
    off = make_app(**{"pypi.default_read": "everyone", "pypi.index_max_age": "0"})
    assert off.get("/simple/").headers["Cache-Control"] == "private, no-cache"


# -- X-Accel-Redirect --------------------------------------------------------------------------


def test_downloads_hand_the_file_to_nginx(make_app):
    app = make_app(**{"storage.accel_redirect": "/_files"})
    upload(app, "alpha", "1.0")
    name = wheel_name("alpha", "1.0")
    answer = app.get(f"/api/package/alpha/{name}", headers=auth("bob"))
    assert answer.body == b""
    assert answer.headers["X-Accel-Redirect"] == f"/_files/alpha/1.0/{name}"
    assert answer.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    assert answer.headers["Content-Type"] == content_type_for(name)
    assert answer.headers["ETag"] and "private" in answer.headers["Cache-Control"]
    again = app.get(f"/api/package/alpha/{name}", status=304,
                    headers={**auth("bob"), "If-None-Match": answer.headers["ETag"]})  # fmt: skip
    assert "X-Accel-Redirect" not in again.headers


def test_the_hand_over_quotes_odd_names(make_app):
    app = make_app(**{"storage.accel_redirect": "/_files/"})
    upload(app, "alpha", "1.0+local.1")
    name = wheel_name("alpha", "1.0+local.1")
    answer = app.get(f"/api/package/alpha/{name}", headers=auth("bob"))
    assert (
        answer.headers["X-Accel-Redirect"]
        == f"/_files/alpha/1.0%2Blocal.1/{name.replace('+', '%2B')}"
    )


def test_a_relative_accel_location_is_refused(tmp_path):
    settings = {**base_settings(tmp_path), "storage.accel_redirect": "_files"}
    with pytest.raises(ConfigError, match="storage.accel_redirect"):
        make_config(settings, here=str(tmp_path), environ={})


@pytest.mark.parametrize(
    ("configured", "expected"), [(logging.NOTSET, logging.ERROR), (logging.INFO, logging.INFO)]
)
def test_waitress_queue_warnings_are_quiet_unless_the_ini_says(tmp_path, configured, expected):
    """waitress warns for every request that waits for a thread (routine with keep-alive
    clients); main() lowers that logger to errors, unless the ini's logging names it."""
    queue = logging.getLogger("waitress.queue")
    before = queue.level
    queue.setLevel(configured)
    try:
        main({"here": str(tmp_path)}, **base_settings(tmp_path))
        assert queue.level == expected
    finally:
        queue.setLevel(before)


def test_an_x_request_id_the_app_set_is_replaced_not_doubled():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Request-Id", "mine")])
        return [b"ok"]

    response = TestApp(AccessLog(app)).get("/", headers={"X-Request-ID": "abc-2"})
    assert response.headers.getall("X-Request-ID") == ["abc-2"]
