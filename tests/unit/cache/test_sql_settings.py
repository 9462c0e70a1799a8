"""db.url errors at start-up: a missing driver says which extra to install."""

from __future__ import annotations

import pytest

from pypicloud.cache.sql import SQLCache
from pypicloud.settings import ConfigError, Settings
from tests.hide_modules import hide_modules


def open_url(url: str) -> None:
    SQLCache.from_settings(Settings({"db.url": url}, environ={}))


@pytest.mark.parametrize(
    ("url", "driver", "extra"),
    [
        ("postgresql+psycopg://pypi:secret@db/pypi", "psycopg", "postgres"),
        ("mysql+pymysql://pypi:secret@db/pypi", "pymysql", "mysql"),
    ],
)
def test_a_missing_driver_names_the_extra(monkeypatch, url, driver, extra):
    hide_modules(monkeypatch, driver)
    with pytest.raises(ConfigError) as error:
        open_url(url)
    assert error.value.key == "db.url"
    assert str(error.value).endswith(f"install it with: pip install 'pypicloud[{extra}]'")
    assert "secret" not in str(error.value)


@pytest.mark.parametrize(
    ("url", "scheme", "extra"),
    [
        ("mysql://pypi@db/pypi", "mysql+pymysql://", "mysql"),
        ("postgresql+psycopg2://pypi@db/pypi", "postgresql+psycopg://", "postgres"),
    ],
)
def test_a_driver_no_extra_provides_points_at_the_one_that_does(monkeypatch, url, scheme, extra):
    hide_modules(monkeypatch, "MySQLdb")
    hide_modules(monkeypatch, "psycopg2")
    with pytest.raises(ConfigError, match="db.url") as error:
        open_url(url)
    assert f"write the URL as {scheme}" in str(error.value)
    assert f"pip install 'pypicloud[{extra}]'" in str(error.value)
