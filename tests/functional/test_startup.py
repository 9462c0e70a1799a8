"""Start-up: bad settings fail naming the key; an original pypicloud's data is served as is."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from pypicloud import make_config, wsgi_app
from pypicloud.settings import ConfigError
from tests.dists import wheel_bytes, wheel_name
from tests.functional.conftest import auth, base_settings, started


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("pypi.allow_overwrite", "maybe"),
        ("pypi.storage", "floppy"),
        ("pypi.db", "nosuch.module:Cache"),
        ("pypi.auth", "ldapish"),
        ("pypi.max_upload_size", "lots"),
        ("pypi.stream_files", "2"),
        ("auth.cache_seconds", "-1"),
        ("user.eve", "plaintext-password"),
        ("package.foo.user.eve", "admin"),
        ("package.foo.robot.eve", "r"),
        ("db.url", "nosuchdialect://x"),
        ("pypi.storag", "file"),  # a typo is not silently ignored
        ("storage.dirr", "/tmp/x"),
    ],
)
def test_bad_setting_names_the_key(tmp_path, key, value):
    settings = base_settings(tmp_path)
    settings[key] = value
    with pytest.raises(ConfigError) as error:
        make_config(settings, here=str(tmp_path), environ={})
    assert key in str(error.value)


def test_an_admin_no_backend_knows_is_warned_about(tmp_path, caplog):
    settings = base_settings(tmp_path)
    settings["auth.admins"] = "alice ghost"
    make_config(settings, here=str(tmp_path), environ={})
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("'ghost'" in w and "auth.admins" in w for w in warnings)
    assert not any("'alice'" in w for w in warnings)


def test_missing_storage_dir_is_named(tmp_path):
    settings = base_settings(tmp_path)
    del settings["storage.dir"]
    with pytest.raises(ConfigError, match="storage.dir"):
        make_config(settings, environ={})


def test_tolerated_original_keys_still_start(tmp_path):
    settings = base_settings(tmp_path)
    settings.update({"pypi.fallback": "none", "db.graceful_reload": "true"})
    make_config(settings, here=str(tmp_path), environ={})


def test_environment_overrides_the_ini(tmp_path):
    from webtest import TestApp

    settings = base_settings(tmp_path)
    environ = {"PPC_PYPI_DEFAULT_READ": "everyone", "PPC_PYPI_REALM": "corp"}
    app = TestApp(wsgi_app(make_config(settings, here=str(tmp_path), environ=environ)))
    app.get("/simple/nothing/", status=404)  # anonymous may read: a plain 404
    response = app.post(
        "/simple/",
        params={":action": "file_upload"},
        status=401,
        content_type="multipart/form-data",
    )
    assert response.headers["WWW-Authenticate"] == 'Basic realm="corp"'


def test_default_sqlite_lives_under_here(tmp_path):
    settings = base_settings(tmp_path)
    del settings["db.url"]
    make_config(settings, here=str(tmp_path), environ={})
    assert (tmp_path / "data" / "db.sqlite").exists()


def write_original_layout(root, name, version, content, meta):
    """Exactly what the original pypicloud's file storage leaves on disk."""
    directory = root / name / version
    directory.mkdir(parents=True)
    filename = wheel_name(name, version)
    (directory / filename).write_bytes(content)
    if meta is not None:
        (directory / (filename + ".meta")).write_text(json.dumps(meta))
    return filename


def test_original_file_directory_is_served_unchanged(tmp_path):

    root = tmp_path / "packages"
    content = wheel_bytes("old-pkg", "1.0", requires_python=">=3.6")
    import hashlib

    sha = hashlib.sha256(content).hexdigest()
    write_original_layout(
        root,
        "old-pkg",
        "1.0",
        content,
        {
            "summary": "Old",
            "hash_sha256": sha,
            "hash_md5": "x",
            "requires_python": ">=3.6",
            "uploader": "legacy",
        },
    )
    write_original_layout(root, "old-pkg", "0.9", wheel_bytes("old-pkg", "0.9"), None)
    broken = root / "old-pkg" / "0.9" / (wheel_name("old-pkg", "0.9") + ".meta")
    broken.write_text("{not json")
    (root / "old-pkg" / "1.0" / ".old_pkg-1.0.whl.3f2a").write_bytes(b"crash leftover")
    (root / "old-pkg" / "1.0" / ".metadata.77aa").write_text("{}")
    app = started(make_config(base_settings(tmp_path), here=str(tmp_path), environ={}))
    files = app.get(
        "/simple/old-pkg/", headers={**auth("bob"), "Accept": "application/vnd.pypi.simple.v1+json"}
    ).json["files"]
    assert [f["filename"] for f in files] == [
        wheel_name("old-pkg", "0.9"),
        wheel_name("old-pkg", "1.0"),
    ]
    assert files[1]["hashes"] == {"sha256": sha}
    assert files[1]["requires-python"] == ">=3.6"
    assert (
        app.get(f"/api/package/old-pkg/{wheel_name('old-pkg', '1.0')}", headers=auth("bob")).body
        == content
    )
    # Core metadata is read from the wheel on first request.
    assert (
        b"Name: old-pkg"
        in app.get(
            f"/api/package/old-pkg/{wheel_name('old-pkg', '1.0')}.metadata", headers=auth("bob")
        ).body
    )


def test_original_sql_table_is_used_as_is(tmp_path):

    db = tmp_path / "old.sqlite"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE packages (filename VARCHAR(255) PRIMARY KEY, name VARCHAR(255) "
                "NOT NULL, version VARCHAR(1000) NOT NULL, last_modified DATETIME NOT NULL, "
                "summary TEXT, data TEXT)"
            )
        )
        conn.execute(sa.text("CREATE INDEX ix_packages_name ON packages (name)"))
        conn.execute(
            sa.text("INSERT INTO packages VALUES (:f, :n, :v, :m, :s, :d)"),
            {
                "f": "legacy-2.0.tar.gz",
                "n": "legacy",
                "v": "2.0",
                "m": dt.datetime(2020, 1, 2, 3, 4, 5),
                "s": "From the original",
                "d": json.dumps({"hash_sha256": "ab" * 32, "hash_md5": "cd" * 16}),
            },
        )
    settings = base_settings(tmp_path)
    settings["db.url"] = f"sqlite:///{db}"
    app = started(make_config(settings, here=str(tmp_path), environ={}))
    page = app.get(
        "/simple/legacy/", headers={**auth("bob"), "Accept": "application/vnd.pypi.simple.v1+json"}
    ).json
    assert page["files"][0]["filename"] == "legacy-2.0.tar.gz"
    assert page["files"][0]["hashes"] == {"sha256": "ab" * 32}
    assert page["files"][0]["upload-time"] == "2020-01-02T03:04:05.000000Z"
