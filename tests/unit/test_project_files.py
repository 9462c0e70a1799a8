"""The files a new user meets first: the ini files, the Makefile, the licence, the extras."""

from __future__ import annotations

import configparser
import importlib.metadata
import os
import shutil
import subprocess
import tomllib

import pytest
from paste.deploy.loadwsgi import SERVER, loadcontext
from waitress.adjustments import Adjustments

from pypicloud.extras import EXTRA_OF_MODULE, OTHER_DRIVERS
from pypicloud.serve import server_factory, with_address
from tests.tools import ROOT

INI_FILES = ["development.ini", "production.ini"]

#: The pyramid.* settings that something reads, and what reads them.
PYRAMID_KEYS_READ = {
    "pyramid.debug_notfound": "pyramid.router (logs why a URL matched nothing)",
    "pyramid.debug_routematch": "pyramid.router",
    "pyramid.debug_authorization": "pyramid.security",
    "pyramid.prevent_http_cache": "pyramid.view",
    "pyramid.default_locale_name": "pyramid.i18n",
    "pyramid.cache_max_age": "pypicloud.app (downloads' Cache-Control)",
}

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def server_options(ini: str, **variables: str) -> dict[str, str]:
    """[server:main] as PasteDeploy hands it to our factory, with pserve's variables."""
    context = loadcontext(SERVER, f"config:{ROOT / ini}", global_conf=variables or None)
    assert context.object is server_factory
    return with_address(context.local_conf, context.global_conf)


def test_development_ini_listens_on_localhost_6543_without_variables():
    assert server_options("development.ini")["listen"] == "localhost:6543"


def test_development_ini_takes_host_and_port_variables():
    options = server_options("development.ini", host="0.0.0.0", port="8080")
    assert options["listen"] == "0.0.0.0:8080"
    assert options["threads"] == "8"


@pytest.mark.parametrize("ini", INI_FILES)
def test_waitress_accepts_every_server_option(ini):
    options = server_options(ini)
    Adjustments(**options)  # raises on an option waitress does not know


@pytest.mark.parametrize("ini", INI_FILES)
def test_every_pyramid_setting_has_a_reader(ini):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / ini)
    keys = [k for k in parser["app:main"] if k.startswith("pyramid.")]
    assert [k for k in keys if k not in PYRAMID_KEYS_READ] == []


def make_serve(*arguments: str, **environment: str) -> str:
    """What ``make serve`` would run (``make -n``), outside any make that runs the tests."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    result = subprocess.run(
        [make, "--no-print-directory", "-n", "serve", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**env, **environment},
    )
    return " ".join(result.stdout.split())


def test_make_serve_passes_host_and_port():
    assert "pserve development.ini host=0.0.0.0 port=8080" in make_serve(
        "HOST=0.0.0.0", "PORT=8080"
    )
    assert "pserve development.ini port=9000" in make_serve("PORT=9000")


def test_make_serve_ignores_host_and_port_in_the_environment():
    command = make_serve(HOST="somebox", PORT="1")
    assert command.endswith("pserve development.ini")


def test_mit_licence_is_shipped():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n\nCopyright (c) 2026 the pypicloud developers\n")
    assert PYPROJECT["project"]["license"] == "MIT"
    assert "LICENSE" in PYPROJECT["project"]["license-files"]
    assert "LICENSE" in (importlib.metadata.metadata("pypicloud").get_all("License-File") or [])


def test_s3_and_cloudfront_need_no_extra():
    core = {
        requirement.split(">")[0].split("[")[0]
        for requirement in PYPROJECT["project"]["dependencies"]
    }
    assert {"boto3", "cryptography"} <= core
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert "s3" in extras  # `pip install 'pypicloud[s3]'` still works


def test_install_hints_name_real_extras():
    extras = PYPROJECT["project"]["optional-dependencies"]
    hinted = set(EXTRA_OF_MODULE.values()) | {extra for extra, _ in OTHER_DRIVERS.values()}
    assert hinted <= set(extras)
    core = " ".join(PYPROJECT["project"]["dependencies"]).lower()
    for extra in ("gcs", "azure", "postgres", "mysql"):
        assert extras[extra] and not any(
            dep.split(">")[0].split("[")[0].lower() in core for dep in extras[extra]
        )
