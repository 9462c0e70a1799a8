"""The shipped nginx site files in front of production.ini: TLS, forwarded URLs, a path
prefix, X-Accel-Redirect downloads, the cache of anonymous index pages, the access log."""

from __future__ import annotations

import json
import re
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest

from pypicloud.storage.layout import content_type_for
from tests.dists import wheel_name, write_dists
from tests.e2e.conftest import run
from tests.e2e.production import AppProcess
from tests.fixtures.nginx import PREFIX_SITE, SITE
from tests.functional.conftest import PASSWORD, auth
from tests.tools import venv_tool

pytestmark = pytest.mark.e2e

HTML = {"Accept": "text/html"}


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def fetch(url: str, cert: Path, headers: dict[str, str] | None = None) -> Answer:
    """One request, redirects not followed, over TLS trusting the test certificate."""
    context = ssl.create_default_context(cafile=str(cert))
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), NoRedirect())
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=30) as r:
            return Answer(r.status, r.headers, r.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers, error.read())


def trusting(cert: Path) -> dict[str, str]:
    """Environment variables that make pip, uv, twine (requests) trust the test's
    certificate: the machine's own CA variables would win over ``--cert`` in requests."""
    return {name: str(cert) for name in ("REQUESTS_CA_BUNDLE", "PIP_CERT", "SSL_CERT_FILE",
                                          "CURL_CA_BUNDLE")}  # fmt: skip


def twine_upload(index: str, files: list[Path], cert: Path) -> None:
    run([venv_tool("twine"), "upload", "--non-interactive", "--disable-progress-bar",
         "--repository-url", index, "--cert", str(cert), "-u", "bob", "-p", PASSWORD,
         *map(str, files)], env=trusting(cert))  # fmt: skip


@dataclass
class Deployment:
    app: AppProcess
    url: str  # the public base URL, prefix included
    cert: Path
    storage: Path
    nginx_log: Path

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        return fetch(self.url + path, self.cert, headers)


def deploy(tmp_path, start_nginx, nginx_certificate, template: Path, **app: str) -> Deployment:
    storage = tmp_path / "packages"
    storage.mkdir(exist_ok=True)
    server = {"url_prefix": "/pypi"} if template == PREFIX_SITE else {}
    env = {"PPC_STORAGE_DIR": str(storage), "PPC_DB_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    process = AppProcess(tmp_path, env, app, server).start()
    nginx = start_nginx([process.port], storage, template)
    prefix = "/pypi" if template == PREFIX_SITE else ""
    return Deployment(process, nginx.url + prefix, nginx_certificate.ca, storage,
                      nginx.root / "access.log")  # fmt: skip


@pytest.fixture
def site(tmp_path, start_nginx, nginx_certificate):
    deployment = deploy(tmp_path, start_nginx, nginx_certificate, SITE)
    twine_upload(deployment.url + "/simple/", write_dists(tmp_path / "dist", "corp-lib", "1.0"),
                 deployment.cert)  # fmt: skip
    yield deployment
    deployment.app.stop()


@pytest.fixture
def prefixed(tmp_path, start_nginx, nginx_certificate):
    deployment = deploy(tmp_path, start_nginx, nginx_certificate, PREFIX_SITE)
    twine_upload(deployment.url + "/simple/", write_dists(tmp_path / "dist", "corp-lib", "1.0"),
                 deployment.cert)  # fmt: skip
    yield deployment
    deployment.app.stop()


def file_urls(page: bytes) -> list[str]:
    return re.findall(r'href="([^"#]+)', page.decode())


def access_records(app: AppProcess) -> list[dict]:
    lines = [line for line in app.log.read_text().splitlines() if line.startswith("{")]
    return [r for r in map(json.loads, lines) if r["logger"] == "pypicloud.access"]


def test_generated_urls_use_the_public_scheme_host_and_port(site):
    page = site.get("/simple/corp-lib/", {**auth("bob"), **HTML})
    assert page.status == 200
    urls = file_urls(page.body)
    assert urls and all(u.startswith(f"{site.url}/api/package/corp-lib/") for u in urls)
    moved = site.get("/simple/Corp_Lib/", auth("bob"))
    assert moved.status == 301
    assert moved.headers["Location"] == f"{site.url}/simple/corp-lib/"


def test_plain_http_is_redirected_to_https(site, start_nginx):
    nginx_root = site.nginx_log.parent
    http_port = re.search(r"listen 127.0.0.1:(\d+);", (nginx_root / "site.conf").read_text())
    assert http_port
    request = urllib.request.Request(f"http://localhost:{http_port[1]}/simple/")
    opener = urllib.request.build_opener(NoRedirect())
    with pytest.raises(urllib.error.HTTPError) as moved:
        opener.open(request, timeout=10)
    assert moved.value.code == 301
    assert moved.value.headers["Location"] == "https://localhost/simple/"


def test_downloads_are_sent_by_nginx_with_the_apps_headers(site):
    name = wheel_name("corp-lib", "1.0")
    answer = site.get(f"/api/package/corp-lib/{name}", auth("bob"))
    assert answer.status == 200
    assert answer.body == (site.storage / "corp-lib" / "1.0" / name).read_bytes()
    assert "X-Accel-Redirect" not in answer.headers
    assert answer.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    assert answer.headers["Content-Type"] == content_type_for(name)
    assert "private" in answer.headers["Cache-Control"]
    # nginx sends its own ETag for the file (mtime-size) and answers revalidation with it.
    etag = answer.headers["ETag"]
    again = site.get(f"/api/package/corp-lib/{name}", {**auth("bob"), "If-None-Match": etag})
    assert again.status == 304 and again.body == b""
    # Python sent no byte of the file: the app's access record says 0 bytes.
    records = [r for r in access_records(site.app) if r["path"].endswith(name)]
    assert records and records[0]["status"] == 200 and records[0]["bytes"] == 0


def test_nginx_answers_range_requests_on_handed_over_files(site):
    name = wheel_name("corp-lib", "1.0")
    answer = site.get(f"/api/package/corp-lib/{name}", {**auth("bob"), "Range": "bytes=0-9"})
    assert answer.status == 206
    assert answer.body == (site.storage / "corp-lib" / "1.0" / name).read_bytes()[:10]


def test_the_internal_location_is_not_reachable_from_outside(site):
    name = wheel_name("corp-lib", "1.0")
    assert site.get(f"/_pypicloud_files/corp-lib/1.0/{name}").status == 404


def test_access_log_has_request_id_user_and_no_secret(site):
    answer = site.get("/simple/corp-lib/", {**auth("bob"), "X-Request-ID": "trace-42"})
    assert answer.headers["X-Request-ID"] == "trace-42"
    answer = site.get("/simple/corp-lib/", auth("bob"))
    generated = answer.headers["X-Request-ID"]  # nginx's $request_id
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    records = {r["request_id"]: r for r in access_records(site.app)}
    assert records["trace-42"]["user"] == "bob"
    assert records["trace-42"]["status"] == 200 and records["trace-42"]["method"] == "GET"
    assert records[generated]["path"] == "/simple/corp-lib/"
    assert records[generated]["client"] == "127.0.0.1"
    assert PASSWORD not in site.app.log.read_text()


def test_anonymous_index_pages_are_cached_by_nginx_signed_in_ones_never(
    tmp_path, start_nginx, nginx_certificate
):
    public = deploy(tmp_path, start_nginx, nginx_certificate, SITE,
                    **{"pypi.default_read": "everyone"})  # fmt: skip
    try:
        twine_upload(public.url + "/simple/", write_dists(tmp_path / "dist", "open-lib", "1.0"),
                     public.cert)  # fmt: skip
        first = public.get("/simple/open-lib/", HTML)
        assert first.status == 200
        assert first.headers["Cache-Control"].startswith("public, max-age=60")
        assert "stale-while-revalidate=300" in first.headers["Cache-Control"]
        again = public.get("/simple/open-lib/", HTML)
        assert again.headers["X-Cache-Status"] == "HIT" and again.body == first.body
        signed_in = public.get("/simple/open-lib/", {**auth("bob"), **HTML})
        assert signed_in.headers["X-Cache-Status"] == "BYPASS"
        assert signed_in.headers["Cache-Control"] == "private, no-cache"
        assert "Authorization" in signed_in.headers["Vary"]
    finally:
        public.app.stop()


def test_under_a_path_prefix_urls_redirects_and_downloads_work(prefixed):
    assert prefixed.url.endswith("/pypi")
    page = prefixed.get("/simple/corp-lib/", {**auth("bob"), **HTML})
    assert page.status == 200
    urls = file_urls(page.body)
    assert urls and all(u.startswith(f"{prefixed.url}/api/package/corp-lib/") for u in urls)
    moved = prefixed.get("/simple/Corp.Lib", auth("bob"))
    assert moved.status == 301
    assert moved.headers["Location"] == f"{prefixed.url}/simple/corp-lib/"
    name = wheel_name("corp-lib", "1.0")
    download = fetch(urls[0], prefixed.cert, auth("bob"))
    assert download.status == 200
    assert download.body == (prefixed.storage / "corp-lib" / "1.0" / name).read_bytes()
