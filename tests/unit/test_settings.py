from __future__ import annotations

import pytest

from pypicloud.settings import ConfigError, Settings


def test_typed_accessors():
    settings = Settings(
        {"a.flag": "Yes", "a.n": "12", "a.size": "2M", "a.list": "x, y\n z"}, environ={}
    )
    assert settings.bool("a.flag") is True
    assert settings.int("a.n") == 12
    assert settings.size("a.size") == 2 * 1024 * 1024
    assert settings.list("a.list") == ["x", "y", "z"]
    assert settings.str("a.missing", "d") == "d"


@pytest.mark.parametrize(
    ("method", "value"), [("bool", "perhaps"), ("int", "ten"), ("size", "-5"), ("size", "1X")]
)
def test_errors_name_the_key(method, value):
    settings = Settings({"pypi.thing": value}, environ={})
    with pytest.raises(ConfigError, match="pypi.thing"):
        getattr(settings, method)("pypi.thing")


def test_required():
    with pytest.raises(ConfigError, match="storage.bucket.*required"):
        Settings({}, environ={}).str("storage.bucket", required=True)


def test_environment_wins_and_adds_keys():
    settings = Settings(
        {"storage.dir": "/ini"},
        environ={"PPC_STORAGE_DIR": "/env", "PPC_PYPI_DEFAULT_READ": "everyone"},
    )
    assert settings.str("storage.dir") == "/env"
    assert settings.list("pypi.default_read") == ["everyone"]


def test_unused_keys_are_reported_unless_tolerated():
    settings = Settings({"pypi.typo": "1", "pypi.download_url": "x", "other.x": "1"}, environ={})
    with pytest.raises(ConfigError, match="pypi.typo"):
        settings.check_unused()
    settings.get("pypi.typo")
    settings.check_unused()
