"""load_backend: short names, dotted paths, and start-up errors that say what to do."""

from __future__ import annotations

import pytest

from pypicloud.backends import load_backend
from pypicloud.cache import Cache
from pypicloud.cache.sql import SQLCache
from pypicloud.settings import ConfigError, Settings
from pypicloud.storage import storage_from_settings
from tests.hide_modules import hide_modules

TABLE = {"sql": "pypicloud.cache.sql:SQLCache"}


class NotABackend:
    """Importable, but nothing a factory can build."""


def load(value: str | None, **kwargs):
    settings = Settings({} if value is None else {"pypi.db": value}, environ={})
    return load_backend(settings, "pypi.db", TABLE, "sql", kind=Cache, **kwargs)


def test_short_name_default_and_dotted_path():
    assert load("sql") is SQLCache
    assert load(None) is SQLCache
    assert load("pypicloud.cache.sql:SQLCache") is SQLCache
    assert load("pypicloud.cache.sql.SQLCache") is SQLCache


def test_unknown_short_name_lists_the_choices():
    with pytest.raises(ConfigError, match=r"'pypi.db'.*unknown backend 'redisish'.*sql"):
        load("redisish")


@pytest.mark.parametrize("path", ["nosuch.module:Cache", "pypicloud.cache.sql:NoSuchClass"])
def test_unloadable_path_names_the_key(path):
    with pytest.raises(ConfigError, match=r"'pypi.db'.*cannot load"):
        load(path)


@pytest.mark.parametrize(
    "path", ["tests.unit.test_backends:NotABackend", "tests.unit.test_backends:TABLE", "os.path"]
)
def test_a_path_to_something_without_from_settings_names_the_key(path):
    with pytest.raises(ConfigError) as error:
        load(path)
    assert error.value.key == "pypi.db"
    assert "not a Cache backend: it has no from_settings(settings)" in str(error.value)


@pytest.mark.parametrize(
    ("backend", "top", "module", "extra"),
    [
        ("gcs", "google", "pypicloud.storage.gcs", "gcs"),
        ("azure-blob", "azure", "pypicloud.storage.azure_blob", "azure"),
    ],
)
def test_a_missing_storage_extra_says_what_to_install(monkeypatch, backend, top, module, extra):
    hide_modules(monkeypatch, top, module)
    settings = Settings({"pypi.storage": backend, "storage.bucket": "b"}, environ={})
    with pytest.raises(ConfigError) as error:
        storage_from_settings(settings)
    assert error.value.key == "pypi.storage"
    assert str(error.value).endswith(f"install it with: pip install 'pypicloud[{extra}]'")
