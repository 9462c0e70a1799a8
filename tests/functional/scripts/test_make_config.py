"""ppc-make-config: every kind it writes starts the app, with the admin it was given."""

from __future__ import annotations

import base64
import configparser

import pytest
from pyramid.paster import get_appsettings
from webtest import TestApp

from pypicloud import make_config, wsgi_app
from tests.fixtures.access import FAST_HASH
from tests.functional.access import world


def start(ini, **environ: str) -> TestApp:
    """The app as pserve builds it from the file (environment overrides, as a deployment)."""
    raw = get_appsettings(str(ini))
    return TestApp(wsgi_app(make_config(raw, here=str(ini.parent), environ=environ)))


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.mark.parametrize(
    "flag, kind", [("-d", "development"), ("-p", "production"), ("-r", "docker"), ("-t", "test")]
)
def test_each_kind_starts_and_knows_its_admin(ppc, tmp_path, flag, kind):
    ini = tmp_path / f"{kind}.ini"
    result = ppc("make-config", flag, "--admin", "root", "--password-hash", FAST_HASH, "-o", ini)
    assert result.returncode == 0, result.stderr
    # Production and docker keep data under /var/lib/pypicloud: point that elsewhere here.
    app = start(
        ini,
        PPC_STORAGE_DIR=str(tmp_path / "packages"),
        PPC_DB_URL=f"sqlite:///{tmp_path / 'db.sqlite'}",
    )
    assert app.get("/simple/", status=401)
    assert app.get("/simple/", headers=basic("root", world.PASSWORD), status=200)
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ini)
    main = parser["app:main"]
    assert main["auth.admins"] == "root" and main["user.root"] == FAST_HASH
    assert len(main["session.validate_key"]) >= 32 and len(main["auth.signing_key"]) >= 32
    assert main["session.secure"] == ("true" if kind == "production" else "false")


def test_keys_are_random_and_the_password_comes_from_stdin(ppc, tmp_path):
    for name in ("a.ini", "b.ini"):
        result = ppc("make-config", "-t", "--admin", "ann", "-o", tmp_path / name, input="pw-9\n")
        assert result.returncode == 0, result.stderr
    a, b = (
        configparser.ConfigParser(interpolation=None),
        configparser.ConfigParser(interpolation=None),
    )
    a.read(tmp_path / "a.ini")
    b.read(tmp_path / "b.ini")
    assert a["app:main"]["session.validate_key"] != b["app:main"]["session.validate_key"]
    assert a["app:main"]["auth.signing_key"] != b["app:main"]["auth.signing_key"]
    app = start(tmp_path / "a.ini")
    assert app.get("/simple/", headers=basic("ann", "pw-9"), status=200)


def test_s3_storage_starts_on_moto(ppc, tmp_path, s3_settings):
    ini = tmp_path / "s3.ini"
    result = ppc(
        "make-config", "-p", "--storage", "s3", "--bucket", s3_settings["storage.bucket"],
        "--region", s3_settings["storage.region_name"], "--prefix", "packages/",
        "--admin", "root", "--password-hash", FAST_HASH, "-o", ini,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    app = start(
        ini,
        PPC_DB_URL=f"sqlite:///{tmp_path / 'db.sqlite'}",
        PPC_STORAGE_ENDPOINT_URL=s3_settings["storage.endpoint_url"],
        PPC_STORAGE_AWS_ACCESS_KEY_ID=s3_settings["storage.aws_access_key_id"],
        PPC_STORAGE_AWS_SECRET_ACCESS_KEY=s3_settings["storage.aws_secret_access_key"],
    )
    assert app.get("/simple/", headers=basic("root", world.PASSWORD), status=200)


def test_an_existing_file_is_kept(ppc, tmp_path):
    (tmp_path / "development.ini").write_text("mine")
    result = ppc("make-config", "-d", "--password-hash", FAST_HASH)
    assert result.returncode == 1 and "exists" in result.stderr
    assert (tmp_path / "development.ini").read_text() == "mine"


def test_bad_answers_are_one_line(ppc, tmp_path):
    no_bucket = ppc("make-config", "-p", "--storage", "s3", "--password-hash", FAST_HASH)
    assert no_bucket.returncode == 1 and "--bucket is required" in no_bucket.stderr
    not_a_hash = ppc("make-config", "-d", "--password-hash", "plain")
    assert not_a_hash.returncode == 1 and "not a password hash" in not_a_hash.stderr
    assert ppc("make-config").returncode == 2
    assert not list(tmp_path.glob("*.ini"))
