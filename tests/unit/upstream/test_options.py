"""pypi.fallback* settings: defaults, the original's spellings, and one-line errors."""

from __future__ import annotations

import pytest

from pypicloud.settings import ConfigError, Settings
from pypicloud.upstream import options
from pypicloud.upstream.options import FallbackOptions, parse_duration


def read(**raw: str) -> FallbackOptions:
    return FallbackOptions.from_settings(Settings(raw, environ={}))


def test_the_default_is_redirect_to_the_public_pypi(monkeypatch):
    monkeypatch.setattr(options, "DEFAULT_MODE", "redirect")  # undo the suite's default
    opts = read()
    assert opts.mode == "redirect"
    assert opts.simple_url == "https://pypi.org/simple/"
    assert opts.base_url == "https://pypi.org/"
    assert opts.cache_update == ("authenticated",)
    assert opts.timeout == 5.0
    assert opts.min_age == 0


def test_the_suite_is_local_only_unless_a_test_asks():
    assert read().mode == "none"


def test_every_setting_is_read():
    opts = read(
        **{
            "pypi.fallback": "cache",
            "pypi.fallback_base_url": "https://mirror.example/",
            "pypi.always_show_upstream": "true",
            "pypi.disallow_fallback": "Acme_Core acme-*",
            "pypi.fallback_allow": "requests, urllib3",
            "pypi.cache_update": "devs ops",
            "pypi.stream_files": "true",
            "pypi.package_max_age": "300",
            "pypi.fallback_min_age": "3d",
            "pypi.fallback_min_age_exempt": "certifi",
            "pypi.fallback_timeout": "2.5",
        }
    )
    assert opts.mode == "cache"
    assert opts.simple_url == "https://mirror.example/simple/"
    assert opts.always_show_upstream and opts.stream_files
    assert opts.disallow == ("acme-core", "acme-*")
    assert opts.allow == ("requests", "urllib3")
    assert opts.cache_update == ("devs", "ops")
    assert opts.package_max_age == 300
    assert opts.min_age == 3 * 86400
    assert opts.min_age_exempt == ("certifi",)
    assert opts.timeout == 2.5


def test_the_originals_full_simple_url_wins():
    opts = read(
        **{"pypi.fallback_url": "http://up.example/root/simple", "pypi.fallback_base_url": "x"}
    )
    assert opts.simple_url == "http://up.example/root/simple/"
    assert opts.base_url == "http://up.example/root/"


@pytest.mark.parametrize(
    "value, seconds", [("600", 600), ("600s", 600), ("30m", 1800), ("12h", 43200), ("1w", 604800)]
)
def test_durations(value, seconds):
    assert parse_duration("k", value) == seconds


@pytest.mark.parametrize(
    "key, value",
    [
        ("pypi.fallback", "proxy"),
        ("pypi.fallback_base_url", "ftp://pypi.org"),
        ("pypi.fallback_url", "pypi.org/simple"),
        ("pypi.always_show_upstream", "sometimes"),
        ("pypi.disallow_fallback", "bad/name"),
        ("pypi.fallback_allow", "spaces are fine but not this: ~"),
        ("pypi.stream_files", "maybe"),
        ("pypi.package_max_age", "-1"),
        ("pypi.package_max_age", "soon"),
        ("pypi.fallback_min_age", "3 days"),
        ("pypi.fallback_min_age", "-3d"),
        ("pypi.fallback_min_age_exempt", "a/b"),
        ("pypi.fallback_timeout", "0"),
        ("pypi.fallback_timeout", "forever"),
        ("pypi.fallback_timeout", "1000"),
    ],
)
def test_a_bad_value_names_its_key(key, value):
    with pytest.raises(ConfigError) as caught:
        read(**{key: value})
    assert caught.value.key == key
    assert "\n" not in str(caught.value)


def test_the_start_up_line_says_mode_and_target():
    assert read().describe() == "upstream fallback: none (local packages only)"
    line = read(**{"pypi.fallback": "cache", "pypi.fallback_min_age": "1d"}).describe()
    assert line == "upstream fallback: cache to https://pypi.org/simple/ (min age 86400s)"
