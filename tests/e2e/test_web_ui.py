"""The web UI in a real browser: Debian's headless Chromium driven by Playwright, against one
real server (sql accounts, nothing readable by default). No browser is downloaded; a missing
chromium fails in CI (require_tool). Screenshots of the main pages go to
``test-output/screenshots/``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.dists import wheel_bytes, wheel_name, write_dists
from tests.e2e.conftest import Server, launch
from tests.e2e.test_accounts import twine
from tests.tools import require_tool, stop_process

pytestmark = pytest.mark.e2e
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
README = (
    "# Widget toolkit\n\nMakes **widgets**.\n\n"
    "<script>window.pwned = 1; document.title = 'owned'</script>\n"
)
PW = "a-long-password"
ROOT = ("root", PW)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory) -> Iterator[Server]:
    """One server for the module: ``root`` is its first user (so admin); ``widgets`` and
    ``gadgets`` are uploaded."""
    process, server = launch(
        tmp_path_factory.mktemp("ui"),
        {
            "pypi.auth": "sql",
            "auth.db.url": "sqlite:///%(here)s/access.sqlite",
            "auth.scheme": "sha256_crypt",
            "auth.rounds": "1000",
            "user.alice": None,
            "user.bob": None,
            "auth.admins": None,
            "pypi.default_read": "",
            "pypi.default_write": "",
        },
    )
    try:
        requests.put(
            f"{server.url}/api/user/root", json={"password": PW}, timeout=30
        ).raise_for_status()
        seed(server, "widgets", "1.0", summary="Widget toolkit", description=README)
        seed(server, "gadgets", "0.1", summary="Other things")
        yield server
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = require_tool("/usr/bin/chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser) -> Iterator[Any]:
    """Pages, each in its own browser context (its own cookies)."""
    contexts: list[Any] = []

    def make() -> Any:
        contexts.append(browser.new_context())
        page = contexts[-1].new_page()
        page.set_default_timeout(15_000)
        return page

    yield make
    for context in contexts:
        context.close()


def seed(server: Server, name: str, version: str, **meta: str) -> None:
    """Upload as twine does (the browser tests start from a non-empty index)."""
    content = wheel_bytes(name, version, **meta)
    form = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": name,
        "version": version,
        "filetype": "bdist_wheel",
        "sha256_digest": hashlib.sha256(content).hexdigest(),
    }
    response = requests.post(
        f"{server.url}/simple/",
        data=form,
        files={"content": (wheel_name(name, version), content)},
        auth=ROOT,
        timeout=30,
    )
    response.raise_for_status()


def sign_in(page: Any, server: Server, user: str, password: str = PW) -> None:
    page.goto(f"{server.url}/acct/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/")


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0


def simple_page(server: Server, name: str) -> str:
    response = requests.get(f"{server.url}/simple/{name}/", auth=ROOT, timeout=30)
    response.raise_for_status()
    return response.text


def test_sign_in_search_readme_without_script(ui_server, new_page):
    page = new_page()
    sign_in(page, ui_server, "root")
    assert page.get_by_role("link", name="widgets").is_visible()
    assert page.get_by_role("link", name="gadgets").is_visible()
    screenshot(page, "home")

    page.get_by_label("Search by name or summary").fill("toolkit")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/?q=toolkit")
    assert page.get_by_role("link", name="gadgets").count() == 0
    with page.expect_response(f"{ui_server.url}/project/widgets/") as answer:
        page.get_by_role("link", name="widgets").click()
    page.wait_for_load_state()
    assert page.locator(".readme h1").inner_text().strip() == "Widget toolkit"
    assert page.locator(".readme strong").inner_text() == "widgets"
    assert page.evaluate("window.pwned") is None and page.title() != "owned"
    assert page.locator(".readme script").count() == 0
    csp = answer.value.headers["content-security-policy"]
    script_src = next(
        (d for d in csp.split(";") if d.strip().startswith("script-src")), "default-src 'none'"
    )
    assert "unsafe-inline" not in script_src and "'none'" in csp
    screenshot(page, "project")


def test_upload_form_then_yank_and_unyank(ui_server, new_page, tmp_path):
    page = new_page()
    sign_in(page, ui_server, "root")
    wheel = tmp_path / wheel_name("formed", "1.0")
    wheel.write_bytes(wheel_bytes("formed", "1.0", summary="Uploaded in a browser"))
    page.get_by_role("link", name="Upload").click()
    page.get_by_label("Wheel or sdist").set_input_files(str(wheel))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(f"{ui_server.url}/project/formed/")
    assert page.get_by_role("link", name=wheel.name).is_visible()
    assert "data-yanked" not in simple_page(ui_server, "formed")

    page.get_by_role("region", name="1.0").get_by_label("Reason").fill("broken build")
    page.get_by_role("button", name="Yank 1.0").click()
    page.wait_for_url(f"{ui_server.url}/project/formed/")
    assert page.get_by_role("button", name="Unyank 1.0").is_visible()
    assert 'data-yanked="broken build"' in simple_page(ui_server, "formed")

    page.get_by_role("button", name="Unyank 1.0").click()
    page.wait_for_url(f"{ui_server.url}/project/formed/")
    assert page.get_by_role("button", name="Yank 1.0").is_visible()
    assert "data-yanked" not in simple_page(ui_server, "formed")


def test_token_shown_once_used_by_twine_then_revoked(ui_server, new_page, tmp_path):
    page = new_page()
    sign_in(page, ui_server, "root")
    page.get_by_role("link", name="Account (root)").click()
    page.get_by_label("Description").fill("ci token")
    page.get_by_label("Scope").select_option("upload")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_role("textbox", name="Token", exact=True).input_value()
    assert secret.startswith("ppc_")
    page.goto(f"{ui_server.url}/account")
    assert secret not in page.content() and "ci token" in page.content()
    screenshot(page, "account")

    dist = tmp_path / "dist"
    twine(ui_server, secret, write_dists(dist, "tokened", "1.0"))
    assert "tokened-1.0" in simple_page(ui_server, "tokened").replace("_", "-")

    page.get_by_role("button", name="Revoke ci token").click()
    page.wait_for_url("**/account?done=revoked")
    assert "ci token" not in page.locator("main").inner_text()
    refused = twine(ui_server, secret, write_dists(dist, "tokened", "2.0"), check=False)
    assert refused.returncode != 0 and "401" in refused.stdout + refused.stderr


def test_admin_grant_lets_another_user_read(ui_server, new_page):
    admin = new_page()
    sign_in(admin, ui_server, "root")
    admin.goto(f"{ui_server.url}/manage")
    admin.get_by_label("User name").fill("carol")
    admin.get_by_label("Password").fill(PW)
    admin.get_by_role("button", name="Create user").click()
    admin.wait_for_url("**/manage?done=*")
    assert "Created carol." in admin.get_by_role("status").inner_text()

    carol = new_page()
    sign_in(carol, ui_server, "carol")
    assert carol.goto(f"{ui_server.url}/project/widgets/").status == 404

    admin.get_by_role("textbox", name="Project").fill("widgets")
    admin.get_by_role("button", name="Show").click()
    admin.get_by_label("Name", exact=True).fill("carol")
    admin.get_by_label("Permission", exact=True).select_option("read")
    admin.get_by_role("button", name="Apply").click()
    admin.wait_for_url("**/manage?done=*")
    assert "user carol" in admin.locator("table").last.inner_text()
    screenshot(admin, "admin")

    answer = carol.goto(f"{ui_server.url}/project/widgets/")
    assert answer.status == 200
    assert carol.locator(".readme h1").inner_text().strip() == "Widget toolkit"
