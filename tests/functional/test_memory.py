"""A server answering pip loads none of the modules only other features need."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import json, sys, tempfile
from webtest import TestApp
from pypicloud import wsgi_app
from pypicloud import make_config
root = tempfile.mkdtemp()
config = make_config(
    {"storage.dir": root + "/p", "db.url": f"sqlite:///{root}/db.sqlite",
     "pypi.default_read": "everyone"},
    here=root, environ={},
)
config.registry.services.packages.rebuilder.wait()
app = TestApp(wsgi_app(config))
app.get("/simple/")
app.get("/simple/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
heavy = ("readme_renderer", "docutils", "pygments", "boto3", "botocore", "google", "azure",
         "ldap", "redis", "urllib3", "pypi_attestations", "sigstore", "pydantic")
print(json.dumps(sorted(m for m in heavy if m in sys.modules)))
"""


def test_serving_the_index_imports_no_heavy_optional_module():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out.splitlines()[-1]) == []
