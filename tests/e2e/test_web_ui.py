"""The web UI in a real browser: Debian's headless Chromium driven by Playwright, against a
real server. No browser is downloaded; a missing chromium fails in CI (require_tool)."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator

import pytest
import requests

from tests.dists import wheel_bytes, wheel_name
from tests.e2e.conftest import Server
from tests.functional.conftest import PASSWORD
from tests.tools import require_tool

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
README = "# Widget toolkit\n\nMakes **widgets**.\n\n<script>document.title='owned'</script>\n"


@pytest.fixture
def browser_page() -> Iterator:
    executable = require_tool("/usr/bin/chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


def seed(server: Server, name: str, version: str, **meta: str) -> None:
    """Upload as twine does (the browser test starts from a non-empty index)."""
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
        auth=("bob", PASSWORD),
        timeout=30,
    )
    response.raise_for_status()


def test_browse_search_token_upload_sign_out(start_server, browser_page, tmp_path):
    server = start_server()
    seed(server, "widgets", "1.0", summary="Widget toolkit", description=README)
    seed(server, "gadgets", "0.1", summary="Other things")
    page = browser_page

    page.goto(f"{server.url}/acct/login")
    page.get_by_label("User name").fill("bob")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/")
    assert page.get_by_role("link", name="widgets").is_visible()
    assert page.get_by_role("link", name="gadgets").is_visible()

    page.get_by_label("Search by name or summary").fill("toolkit")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/?q=toolkit")
    assert page.get_by_role("link", name="gadgets").count() == 0
    page.get_by_role("link", name="widgets").click()
    page.wait_for_url(f"{server.url}/project/widgets/")
    assert page.locator(".readme h1").inner_text().strip() == "Widget toolkit"
    assert page.locator(".readme strong").inner_text() == "widgets"
    assert page.title() != "owned" and page.locator(".readme script").count() == 0
    shot = tmp_path / "project.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0
    shutil.copy(shot, server.root / "project.png")  # kept beside the server log to look at

    page.get_by_role("link", name="Account (bob)").click()
    page.get_by_label("Description").fill("ci token")
    page.get_by_label("Scope").select_option("upload")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_role("textbox", name="Token", exact=True).input_value()
    assert secret.startswith("ppc_")
    page.goto(f"{server.url}/account")
    assert secret not in page.content() and "ci token" in page.content()

    wheel = tmp_path / wheel_name("formed", "1.0")
    wheel.write_bytes(wheel_bytes("formed", "1.0", summary="Uploaded in a browser"))
    page.get_by_role("link", name="Upload").click()
    page.get_by_label("Wheel or sdist").set_input_files(str(wheel))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(f"{server.url}/project/formed/")
    assert page.get_by_role("link", name=wheel.name).is_visible()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{server.url}/")
    assert page.get_by_role("navigation").get_by_role("link", name="Sign in").is_visible()
    assert page.get_by_role("link", name="widgets").count() == 0
