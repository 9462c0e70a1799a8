"""Metric options, the bearer token check and the byte-counting body."""

from __future__ import annotations

import pytest

from pypicloud.metrics import Metrics, MetricsOptions
from pypicloud.settings import ConfigError, Settings
from pypicloud.tweens import CountingIter

TOKEN = "0123456789abcdef-token"


def options(**raw: str) -> MetricsOptions:
    return MetricsOptions.from_settings(Settings(raw, environ={}), environ={})


def test_defaults_to_admins_only():
    assert options().mode == "admin"
    assert options(**{"pypi.metrics": "everyone"}).mode == "everyone"


def test_bearer_token_check():
    found = options(**{"pypi.metrics": "token", "pypi.metrics_token": TOKEN})
    assert found.token_matches(f"Bearer {TOKEN}")
    assert found.token_matches(f"bearer {TOKEN}")
    for wrong in ("", TOKEN, f"Basic {TOKEN}", f"Bearer {TOKEN[:-1]}", "Bearer "):
        assert not found.token_matches(wrong)
    assert TOKEN not in repr(found)
    assert not options().token_matches(f"Bearer {TOKEN}")  # no token set: never


def test_multiproc_dir_from_the_environment_must_exist(tmp_path):
    settings = Settings({}, environ={})
    with pytest.raises(ConfigError, match="metrics.multiproc_dir"):
        MetricsOptions.from_settings(settings, environ={"PROMETHEUS_MULTIPROC_DIR": "/nope"})
    found = MetricsOptions.from_settings(
        settings, environ={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    )
    assert found.multiproc_dir == str(tmp_path)
    off = Settings({"pypi.metrics": "off"}, environ={})
    assert MetricsOptions.from_settings(off, environ={"PROMETHEUS_MULTIPROC_DIR": "/no"}).mode


def test_disabled_metrics_count_nothing():
    metrics = Metrics(MetricsOptions(mode="off"))
    metrics.request("root", "GET", 200, 0.1)
    metrics.upload(created=True)
    metrics.upstream_request("redirect", "ok")
    assert b"pypicloud_uploads_total{" not in metrics.render()


def test_counting_iter_reports_once_on_close():
    reported = []
    closed = []

    class Body:
        def __iter__(self):
            yield b"abc"
            yield b"de"

        def close(self):
            closed.append(True)

    body = CountingIter(Body(), reported.append)
    assert b"".join(body) == b"abcde"
    body.close()
    body.close()
    assert reported == [5] and closed == [True, True]
