"""Several processes writing to one PROMETHEUS_MULTIPROC_DIR: /metrics shows the sums.

Real processes (multiprocess mode is process-wide in prometheus_client): two writers, one
switched on by the environment variable and one by ``metrics.multiproc_dir``, then a third
process whose /metrics reads every file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from tests.functional.conftest import base_settings
from tests.functional.views.test_metrics import requests, samples, value

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from webtest import TestApp
    from pypicloud import make_config, wsgi_app

    settings, here, count, read = json.loads(sys.argv[1])
    config = make_config(settings, here=here, environ={})
    config.registry.services.packages.rebuilder.wait()
    app = TestApp(wsgi_app(config))
    for _ in range(count):
        app.get("/health/live")
    app.get("/no/such/page", status=404)
    if read:
        sys.stdout.write(app.get("/metrics").text)
    """
)


def run(settings, here, count, *, read=False, env_dir=None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    if env_dir is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = env_dir
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps([settings, here, count, read])],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_totals_add_up_across_processes(tmp_path):
    directory = tmp_path / "prometheus"
    directory.mkdir()
    settings = {**base_settings(tmp_path), "pypi.metrics": "everyone"}
    here = str(tmp_path)
    run(settings, here, 3, env_dir=str(directory))
    by_setting = {**settings, "metrics.multiproc_dir": str(directory)}
    run(by_setting, here, 4)
    assert len(list(directory.glob("counter_*.db"))) == 2  # one file per process
    found = samples(run(by_setting, here, 5, read=True))
    assert requests(found, "health_live") == 3 + 4 + 5
    assert requests(found, "unmatched", status="404") == 3
    latency = "pypicloud_http_request_duration_seconds_count"
    assert value(found, latency, route="health_live") == 12
