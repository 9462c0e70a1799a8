"""/metrics after a known sequence of requests: the exact counts, and who may read them."""

from __future__ import annotations

import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pyramid.response import Response
from webtest import TestApp

from pypicloud import make_config, wsgi_app
from pypicloud.settings import ConfigError
from pypicloud.tweens import OBSERVE, ROUTE_KEY
from tests.dists import wheel_bytes, wheel_name
from tests.functional.conftest import auth, base_settings, started, upload

TOKEN = "scrape-me-0123456789abcdef"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics body, by name and sorted labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def requests(found, route: str, status: str = "200", method: str = "GET") -> float:
    return value(found, "pypicloud_http_requests_total", route=route, method=method, status=status)


def test_counts_after_a_known_sequence(make_app):
    app = make_app(**{"pypi.metrics": "everyone"})
    content = wheel_bytes("alpha", "1.0")
    upload(app, "alpha", "1.0", content=content)  # POST /simple/: created
    upload(app, "alpha", "1.0", content=content)  # the same file again: unchanged
    for _ in range(2):
        app.get("/simple/", headers=auth("bob"))
    app.get("/simple/alpha/", headers=auth("bob"))
    url = f"/api/package/alpha/{wheel_name('alpha', '1.0')}"
    app.get(url, headers=auth("bob"))
    app.get(url, headers={**auth("bob"), "Range": "bytes=0-9"}, status=206)
    app.get("/no/such/page", status=404)
    app.get("/simple/", status=401)

    found = samples(app.get("/metrics").text)

    assert requests(found, "simple_index", method="POST") == 2
    assert requests(found, "simple_index") == 2
    assert requests(found, "simple_index", status="401") == 1
    assert requests(found, "simple_project") == 1
    assert requests(found, "api_file") == 1
    assert requests(found, "api_file", status="206") == 1
    assert requests(found, "unmatched", status="404") == 1
    assert requests(found, "metrics") == 0  # counted once answered
    latency = "pypicloud_http_request_duration_seconds_count"
    assert value(found, latency, route="simple_index") == 5
    assert value(found, "pypicloud_http_response_bytes_total", route="api_file") == (
        len(content) + 10
    )
    assert value(found, "pypicloud_uploads_total", outcome="created") == 1
    assert value(found, "pypicloud_uploads_total", outcome="unchanged") == 1
    assert value(found, "pypicloud_downloads_total", delivery="stream") == 2
    # /simple/ twice: the project list, the visible list and the page missed, then the
    # fast path's copy hit; the project page: the project list hit, its page missed.
    assert value(found, "pypicloud_page_cache_total", result="miss") == 4
    assert value(found, "pypicloud_page_cache_total", result="hit") == 2
    assert value(found, "pypicloud_rebuilds_total", outcome="ok") == 1  # at start-up
    assert ("pypicloud_upstream_requests_total", ()) not in found  # labelled, none yet

    again = samples(app.get("/metrics").text)
    assert requests(again, "metrics") == 1


def test_rebuild_and_upstream_counters(make_app):
    app = make_app(**{"pypi.metrics": "everyone"})
    app.post("/admin/rebuild", headers=auth("alice"))
    services = app.app.registry.services
    services.metrics.upstream_request("redirect", "ok")
    services.metrics.upstream_request("redirect", "ok")
    services.metrics.upstream_request("cache", "error")
    found = samples(app.get("/metrics").text)
    assert value(found, "pypicloud_rebuilds_total", outcome="ok") == 2
    upstream = "pypicloud_upstream_requests_total"
    assert value(found, upstream, mode="redirect", outcome="ok") == 2
    assert value(found, upstream, mode="cache", outcome="error") == 1


def test_admin_mode_is_the_default(app):
    anonymous = app.get("/metrics", status=401)
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    app.get("/metrics", headers=auth("bob"), status=403)
    response = app.get("/metrics", headers=auth("alice"))
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert response.headers["Cache-Control"] == "no-store"
    assert "pypicloud_http_requests_total" in response.text


def test_token_mode(make_app, caplog):
    caplog.set_level(logging.DEBUG)
    app = make_app(**{"pypi.metrics": "token", "pypi.metrics_token": TOKEN})
    denied = app.get("/metrics", status=401)
    assert denied.headers["WWW-Authenticate"].startswith("Bearer")
    app.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"}, status=401)
    app.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}, status=401)
    app.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    app.get("/metrics", headers=auth("alice"))  # admins too
    app.get("/metrics", headers=auth("bob"), status=403)
    assert TOKEN not in caplog.text


def test_off_counts_nothing_and_answers_404(make_app):
    app = make_app(**{"pypi.metrics": "off"})
    app.get("/metrics", headers=auth("alice"), status=404)
    assert not app.app.registry.services.metrics.enabled
    assert b"pypicloud_http_requests_total{" not in app.app.registry.services.metrics.render()


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"pypi.metrics": "sometimes"}, "pypi.metrics"),
        ({"pypi.metrics": "token"}, "pypi.metrics_token"),
        ({"pypi.metrics": "token", "pypi.metrics_token": "short"}, "pypi.metrics_token"),
        ({"metrics.multiproc_dir": "/no/such/dir"}, "metrics.multiproc_dir"),
    ],
)
def test_bad_settings_stop_start_up(tmp_path, settings, key):
    with pytest.raises(ConfigError) as error:
        make_config({**base_settings(tmp_path), **settings}, here=str(tmp_path), environ={})
    assert error.value.key == key
    assert "short" not in str(error.value) or key != "pypi.metrics_token"


def fast_path_factory(handler, registry):
    """A tween that answers one URL itself, as a cached-page fast path would."""

    def fast(request):
        if request.path == "/simple/cached/":
            request.environ[ROUTE_KEY] = "simple_project"
            return Response(b"cached page")
        return handler(request)

    return fast


def test_a_tween_answering_before_routing_counts_under_its_route(tmp_path):
    """The contract of the observe tween with a fast path below it (pypicloud/tweens.py)."""
    settings = {**base_settings(tmp_path), "pypi.metrics": "everyone"}
    config = make_config(settings, here=str(tmp_path), environ={})
    config.add_tween(f"{__name__}.fast_path_factory", under=OBSERVE)
    app = started(config)
    app.get("/simple/cached/")
    app.get("/simple/cached/")
    found = samples(app.get("/metrics").text)
    assert requests(found, "simple_project") == 2
    assert value(found, "pypicloud_http_response_bytes_total", route="simple_project") == 22


def test_app_without_metrics_still_serves(tmp_path):
    """An app whose tween finds metrics off passes every request through untouched."""
    settings = {**base_settings(tmp_path), "pypi.metrics": "off"}
    app = TestApp(wsgi_app(make_config(settings, here=str(tmp_path), environ={})))
    assert app.get("/health/live").json == {"status": "alive"}
