"""The deployment files agree with each other: one upload limit, one internal location."""

from __future__ import annotations

import configparser
import re

from pypicloud.settings import Settings
from tests.tools import ROOT

MIB = 1024 * 1024
FORM_ALLOWANCE = MIB  # room for the multipart fields around the file


def production() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "production.ini")
    return parser


def nginx_size(text: str) -> int:
    match = re.search(r"client_max_body_size (\d+)m;", text)
    assert match
    return int(match[1]) * MIB


def test_upload_limits_agree():
    ini = production()
    upload = Settings(dict(ini["app:main"]), environ={}).size("pypi.max_upload_size")
    assert upload is not None
    body = int(ini["server:main"]["max_request_body_size"])
    assert body == upload + FORM_ALLOWANCE
    for name in ("nginx.conf", "nginx-prefix.conf"):
        assert nginx_size((ROOT / "deploy" / name).read_text()) == body, name


def test_the_internal_location_is_the_accel_setting():
    location = production()["app:main"]["storage.accel_redirect"]
    storage = production()["app:main"]["storage.dir"]
    for name in ("nginx.conf", "nginx-prefix.conf"):
        text = (ROOT / "deploy" / name).read_text()
        block = re.search(r"location " + re.escape(location) + r" \{(.*?)\}", text, re.S)
        assert block, name
        assert "internal;" in block[1] and f"alias {storage}/;" in block[1]


def test_waitress_outlives_nginx_keepalive():
    # nginx closes idle upstream connections after 60 s (its default keepalive_timeout).
    assert int(production()["server:main"]["channel_timeout"]) > 60
